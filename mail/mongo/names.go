package mongo

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/eidermail/eider/mail/store"
	"golang.org/x/text/unicode/norm"
)

// MaxMailboxName is the longest mailbox name accepted, in bytes (the same
// limit as the SQLite backend).
const MaxMailboxName = 1024

// canonicalName validates a mailbox name and returns its canonical form:
// NFC, with a first component equal to "INBOX" in any case spelled "INBOX"
// (RFC 3501 §5.1). Refused with ErrInvalidName: empty, too long, invalid
// UTF-8, control characters, a leading or trailing "/", or "//".
func canonicalName(name string) (string, error) {
	if name == "" || len(name) > MaxMailboxName || !utf8.ValidString(name) {
		return "", fmt.Errorf("mailbox name %q: %w", name, store.ErrInvalidName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("mailbox name %q: control character: %w", name, store.ErrInvalidName)
		}
	}
	sep := store.Separator
	if strings.HasPrefix(name, sep) || strings.HasSuffix(name, sep) || strings.Contains(name, sep+sep) {
		return "", fmt.Errorf("mailbox name %q: empty hierarchy component: %w", name, store.ErrInvalidName)
	}
	name = norm.NFC.String(name)
	first, rest, hasRest := strings.Cut(name, sep)
	if strings.EqualFold(first, "INBOX") {
		name = "INBOX"
		if hasRest {
			name += sep + rest
		}
	}
	return name, nil
}

// parentName returns the name of the parent ("" for a top-level mailbox).
func parentName(name string) string {
	if i := strings.LastIndex(name, store.Separator); i >= 0 {
		return name[:i]
	}
	return ""
}

// specialUses maps lowercased RFC 6154 attributes to their spelling.
var specialUses = map[string]string{}

func init() {
	for _, su := range []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`, `\Important`} {
		specialUses[strings.ToLower(su)] = su
	}
}

// systemFlags maps lowercased RFC 3501 §2.3.2 system flags to their spelling.
var systemFlags = map[string]string{}

func init() {
	for _, f := range []string{store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagDraft} {
		systemFlags[strings.ToLower(f)] = f
	}
}

// normFlag returns the stored spelling of a flag: system flags in their
// canonical case, keywords as given; keywords must be IMAP atoms.
func normFlag(f string) (string, error) {
	if sf, ok := systemFlags[strings.ToLower(f)]; ok {
		return sf, nil
	}
	if f == "" || strings.HasPrefix(f, `\`) {
		return "", fmt.Errorf("flag %q: %w", f, store.ErrInvalidInput)
	}
	for i := 0; i < len(f); i++ {
		if c := f[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return "", fmt.Errorf("flag %q: %w", f, store.ErrInvalidInput)
		}
	}
	return f, nil
}

// normFlags canonicalizes, sorts and deduplicates flags (keywords compare
// case-insensitively; the first spelling wins).
func normFlags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, f := range in {
		n, err := normFlag(f)
		if err != nil {
			return nil, err
		}
		if !hasFlag(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func hasFlag(fs []string, f string) bool {
	for _, x := range fs {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// applyFlags returns the flags after an update and whether they changed.
func applyFlags(cur []string, mode store.FlagMode, fl []string) ([]string, bool) {
	var next []string
	switch mode {
	case store.FlagsSet:
		next = slices.Clone(fl)
	case store.FlagsAdd:
		next = slices.Clone(cur)
		for _, f := range fl {
			if !hasFlag(next, f) {
				next = append(next, f)
			}
		}
	case store.FlagsRemove:
		for _, f := range cur {
			if !hasFlag(fl, f) {
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

func seen(fs []string) bool { return slices.Contains(fs, store.FlagSeen) }

// containsFold reports whether needle occurs in hay, ignoring case (simple
// per-character lowercase mapping, as the SQLite backend's search).
func containsFold(hay, needle string) bool {
	if needle == "" {
		return true
	}
	return strings.Contains(strings.Map(unicode.ToLower, hay), strings.Map(unicode.ToLower, needle))
}
