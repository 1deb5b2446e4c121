package wire

import "fmt"

// ErrorKind classifies a *SyntaxError so the session can choose its answer.
type ErrorKind int

const (
	// KindSyntax: the command does not follow the grammar (RFC 3501 §9).
	// Answer "<tag> BAD <msg>".
	KindSyntax ErrorKind = iota
	// KindUnknown: the command name is not one this parser knows.
	// Answer "<tag> BAD <msg>".
	KindUnknown
	// KindTooLong: a command line (excluding literals) exceeded
	// Limits.MaxLine, or the command as a whole exceeded Limits.MaxBuffered.
	// Answer "<tag> BAD <msg>" (or "* BAD" if the tag was lost).
	KindTooLong
	// KindTooBig: a literal exceeded Limits.MaxLiteral (or, for a buffered
	// literal, Limits.MaxBuffered; or, with Limits.LiteralMinus, a
	// non-synchronising literal exceeded 4096 octets). Answer
	// "<tag> NO [TOOBIG] <msg>" for APPEND, "<tag> BAD [TOOBIG] <msg>"
	// otherwise (RFC 7888 §4, §5; RFC 9051 §7.1), or "* BYE [TOOBIG]" if Fatal.
	KindTooBig
)

func (k ErrorKind) String() string {
	switch k {
	case KindSyntax:
		return "syntax"
	case KindUnknown:
		return "unknown command"
	case KindTooLong:
		return "too long"
	case KindTooBig:
		return "too big"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// SyntaxError reports a command the Reader rejected.
//
// Invariant: unless Fatal is set, when ReadCommand returns a *SyntaxError
// the Reader is positioned at the start of the next command line: the rest
// of the offending command, including any non-synchronising literals it
// announced, has been consumed and no literal content will be mistaken for
// a command.
type SyntaxError struct {
	Tag   string    // the command's tag, "" if it could not be read
	Name  string    // the command name (upper case), "" if not known
	Kind  ErrorKind // what went wrong
	Msg   string    // human-readable text for the BAD/NO response
	Fatal bool      // the stream cannot be resynchronised: close the connection
}

func (e *SyntaxError) Error() string {
	s := "imap: " + e.Kind.String() + ": " + e.Msg
	if e.Tag != "" {
		s = "imap: " + e.Tag + ": " + e.Kind.String() + ": " + e.Msg
	}
	if e.Fatal {
		s += " (fatal)"
	}
	return s
}

// errorf builds a KindSyntax error; the tag is filled in by ReadCommand.
func errorf(format string, args ...any) *SyntaxError {
	return &SyntaxError{Kind: KindSyntax, Msg: fmt.Sprintf(format, args...)}
}
