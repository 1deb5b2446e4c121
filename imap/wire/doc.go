// Package wire is the IMAP4 protocol layer of Eider's IMAP server: a command
// parser (Reader) and a response encoder (Writer), kept apart from session
// logic so that both can be tested and fuzzed on their own.
//
// The grammar followed is RFC 3501 §9 (IMAP4rev1) with the additions of
// RFC 9051 (IMAP4rev2) and of the extensions the server implements:
// LITERAL+/LITERAL- (RFC 7888), SASL-IR (RFC 4959), ENABLE (RFC 5161),
// ID (RFC 2971), CONDSTORE/QRESYNC (RFC 7162), UIDPLUS (RFC 4315),
// MOVE (RFC 6851), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
// SPECIAL-USE (RFC 6154), ESEARCH (RFC 4731), SEARCHRES (RFC 5182),
// UTF8=ACCEPT (RFC 6855), IDLE (RFC 2177), QUOTA (RFC 9208),
// COMPRESS (RFC 4978), BINARY (RFC 3516), UNSELECT (RFC 3691).
//
// # Reading commands
//
// A session creates one Reader per connection and calls ReadCommand in a
// loop. Errors are of three sorts:
//
//   - *SyntaxError with Fatal == false: the command was rejected and the
//     Reader has already resynchronised at the start of the next command;
//     the session answers "<tag> BAD <msg>" (or "* BAD" when Tag is empty;
//     "NO [TOOBIG]" / "BAD [TOOBIG]" when Kind == KindTooBig) and carries on.
//   - *SyntaxError with Fatal == true: the Reader cannot tell where the next
//     command starts (a non-synchronising literal too large to discard); the
//     session sends "* BYE" (with [TOOBIG] when Kind == KindTooBig) and
//     closes the connection.
//   - any other error (I/O, io.EOF, the ContinueFunc's error): the
//     connection is gone or must be closed.
//
// APPEND is special: its message literal is not buffered but handed to the
// session as a *Literal (an io.Reader bounded by the literal's size) that is
// valid until the next ReadCommand call. See Literal for the continuation
// and resynchronisation rules.
//
// # Writing responses
//
// A Writer wraps the connection's output; it keeps the first write error and
// makes every later call a no-op, so a session can write a whole response and
// check Flush's error once.
package wire
