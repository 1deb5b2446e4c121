package store

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The naming rules every backend applies, so that a name or flag accepted by
// one backend is stored with the same spelling by all of them.

// MaxMailboxName is the longest mailbox name accepted, in bytes.
const MaxMailboxName = 1024

// CanonicalMailboxName validates a mailbox name and returns its canonical
// form: NFC, and a first component equal to "INBOX" in any case spelled
// "INBOX" (RFC 3501 §5.1). Refused with ErrInvalidName: empty, longer than
// MaxMailboxName, invalid UTF-8, control characters, a leading or trailing
// separator, or an empty hierarchy component.
func CanonicalMailboxName(name string) (string, error) {
	if name == "" || len(name) > MaxMailboxName || !utf8.ValidString(name) {
		return "", fmt.Errorf("mailbox name %q: %w", name, ErrInvalidName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", fmt.Errorf("mailbox name %q: control character: %w", name, ErrInvalidName)
		}
	}
	if strings.HasPrefix(name, Separator) || strings.HasSuffix(name, Separator) ||
		strings.Contains(name, Separator+Separator) {
		return "", fmt.Errorf("mailbox name %q: empty hierarchy component: %w", name, ErrInvalidName)
	}
	name = norm.NFC.String(name)
	first, rest, hasRest := strings.Cut(name, Separator)
	if strings.EqualFold(first, "INBOX") {
		name = "INBOX"
		if hasRest {
			name += Separator + rest
		}
	}
	return name, nil
}

// ParentName returns the name of the parent ("" for a top-level mailbox).
func ParentName(name string) string {
	i := strings.LastIndex(name, Separator)
	if i < 0 {
		return ""
	}
	return name[:i]
}

// specialUses maps lowercased RFC 6154 attributes to their spelling.
var specialUses = map[string]string{}

// systemFlags maps lowercased RFC 3501 §2.3.2 system flags to their spelling.
var systemFlags = map[string]string{}

func init() {
	for _, su := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`, `\Important`} {
		specialUses[strings.ToLower(su)] = su
	}
	for _, f := range []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft} {
		systemFlags[strings.ToLower(f)] = f
	}
}

// CanonicalSpecialUse returns the spelling of an RFC 6154 special-use
// attribute given in any case, and false for anything else.
func CanonicalSpecialUse(su string) (string, bool) {
	s, ok := specialUses[strings.ToLower(su)]
	return s, ok
}

// CanonicalFlag returns the stored spelling of a flag: system flags in their
// canonical case, keywords as given. Keywords must be IMAP atoms (RFC 3501
// §9 flag-keyword); anything else is ErrInvalidInput.
func CanonicalFlag(f string) (string, error) {
	if sf, ok := systemFlags[strings.ToLower(f)]; ok {
		return sf, nil
	}
	if f == "" || strings.HasPrefix(f, `\`) {
		return "", fmt.Errorf("flag %q: %w", f, ErrInvalidInput)
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return "", fmt.Errorf("flag %q: %w", f, ErrInvalidInput)
		}
	}
	return f, nil
}

// CanonicalFlags canonicalizes, sorts and deduplicates flags (keywords
// compare case-insensitively; the first spelling wins).
func CanonicalFlags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, f := range in {
		n, err := CanonicalFlag(f)
		if err != nil {
			return nil, err
		}
		if !HasFlag(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// HasFlag reports whether fs holds f, compared case-insensitively.
func HasFlag(fs []string, f string) bool {
	for _, x := range fs {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// ApplyFlags returns the sorted flags after an update of cur (sorted,
// canonical) with fl (canonical) and whether they changed.
func ApplyFlags(cur []string, mode FlagMode, fl []string) ([]string, bool) {
	var next []string
	switch mode {
	case FlagsSet:
		next = slices.Clone(fl)
	case FlagsAdd:
		next = slices.Clone(cur)
		for _, f := range fl {
			if !HasFlag(next, f) {
				next = append(next, f)
			}
		}
	case FlagsRemove:
		for _, f := range cur {
			if !HasFlag(fl, f) {
				next = append(next, f)
			}
		}
	}
	if next == nil {
		next = []string{}
	}
	slices.Sort(next)
	return next, !slices.Equal(next, cur)
}
