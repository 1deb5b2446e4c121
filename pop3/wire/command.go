package wire

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Command is one parsed command line (RFC 1939 §3): a case-insensitive
// keyword, upper-cased here, followed by arguments separated by single
// spaces.
//
// Invariants of a Command returned by ParseCommand without error: Name is
// 3 or 4 ASCII letters A-Z; every argument is non-empty valid UTF-8 with no
// control characters and no space; Rest is the exact text after the
// keyword and its space ("" without arguments), so strings.Join(Args, " ")
// == Rest.
type Command struct {
	Name string
	Args []string
	// Rest is the whole argument text. PASS uses it (RFC 1939 §7 lets a
	// server take the rest of the line as the password, spaces included).
	Rest string
}

// SyntaxError is a malformed command line.
type SyntaxError struct{ Reason string }

func (e *SyntaxError) Error() string { return "syntax error: " + e.Reason }

// ParseCommand parses one command line; a trailing CRLF or LF is ignored.
func ParseCommand(line []byte) (Command, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return Command{}, &SyntaxError{"empty command"}
	}
	kw, rest, hasArgs := bytes.Cut(line, []byte(" "))
	if len(kw) < 3 || len(kw) > 4 {
		return Command{}, &SyntaxError{"keyword must be 3 or 4 letters"}
	}
	for _, c := range kw {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return Command{}, &SyntaxError{"keyword must be letters"}
		}
	}
	cmd := Command{Name: strings.ToUpper(string(kw))}
	if !hasArgs {
		return cmd, nil
	}
	if !utf8.Valid(rest) {
		return Command{}, &SyntaxError{"arguments are not UTF-8"}
	}
	for _, r := range string(rest) {
		if r < 0x20 || r == 0x7f {
			return Command{}, &SyntaxError{fmt.Sprintf("control character %U in arguments", r)}
		}
	}
	cmd.Rest = string(rest)
	// RFC 1939 §3: arguments are separated by a single SPACE.
	cmd.Args = strings.Split(cmd.Rest, " ")
	for _, a := range cmd.Args {
		if a == "" {
			return Command{}, &SyntaxError{"empty argument (extra space)"}
		}
	}
	return cmd, nil
}
