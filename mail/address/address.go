// Package address normalizes internationalized e-mail addresses (RFC 6531)
// and usernames into lookup keys.
package address

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalid is wrapped by every error about a malformed address.
var ErrInvalid = errors.New("invalid address")

// profile converts between A-labels (xn--) and U-labels leniently enough for
// real-world mail domains, while still refusing garbage.
var profile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule())

var fold = cases.Fold()

// Normalize returns the lookup key of an address: the local part in NFC and
// case-folded, "@", the domain in its Unicode form (xn-- labels decoded),
// NFC and lowercase. Two spellings of one mailbox (ASCII vs punycode domain,
// upper vs lower case, composed vs decomposed characters) give one key.
func Normalize(addr string) (string, error) {
	local, domain, err := Split(addr)
	if err != nil {
		return "", err
	}
	d, err := profile.ToUnicode(domain)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrInvalid, domain, err)
	}
	return fold.String(norm.NFC.String(local)) + "@" + strings.ToLower(norm.NFC.String(d)), nil
}

// Split splits an address at its last "@" and checks both parts.
func Split(addr string) (local, domain string, err error) {
	addr = strings.TrimSpace(addr)
	if !utf8.ValidString(addr) {
		return "", "", fmt.Errorf("%w: not UTF-8", ErrInvalid)
	}
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", fmt.Errorf("%w: %q: want local@domain", ErrInvalid, addr)
	}
	local, domain = addr[:i], strings.TrimSuffix(addr[i+1:], ".")
	if len(local) > 64*4 || len(domain) > 255*4 {
		return "", "", fmt.Errorf("%w: %q: too long", ErrInvalid, addr)
	}
	for _, r := range local {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", "", fmt.Errorf("%w: %q: space or control character in local part", ErrInvalid, addr)
		}
	}
	if strings.ContainsAny(domain, " \t@") || domain == "" {
		return "", "", fmt.Errorf("%w: %q: bad domain", ErrInvalid, addr)
	}
	return local, domain, nil
}

// StripLabel removes a "+label" sub-address from a normalized address:
// "user+label@domain" becomes "user@domain". It reports whether it changed.
func StripLabel(normalized string) (string, bool) {
	i := strings.LastIndexByte(normalized, '@')
	if i < 0 {
		return normalized, false
	}
	local, domain := normalized[:i], normalized[i:]
	j := strings.IndexByte(local, '+')
	if j <= 0 {
		return normalized, false
	}
	return local[:j] + domain, true
}

// ASCIIDomain returns the address with its domain in A-label (punycode) form,
// for places that need ASCII (e.g. an SMTP peer without SMTPUTF8).
func ASCIIDomain(addr string) (string, error) {
	local, domain, err := Split(addr)
	if err != nil {
		return "", err
	}
	d, err := profile.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q: %v", ErrInvalid, domain, err)
	}
	return local + "@" + d, nil
}

// NormalizeUsername returns the lookup key of a username: NFC and case-folded.
// Usernames may be any printable Unicode without "@" spaces or controls.
func NormalizeUsername(name string) (string, error) {
	name = norm.NFC.String(strings.TrimSpace(name))
	if name == "" || !utf8.ValidString(name) || len(name) > 256 {
		return "", fmt.Errorf("%w: username must be 1-256 bytes of UTF-8", ErrInvalid)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '@' {
			return "", fmt.Errorf("%w: username %q contains space, control or @", ErrInvalid, name)
		}
	}
	return fold.String(name), nil
}
