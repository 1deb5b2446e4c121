package imap

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/eidermail/eider/imap/wire"
)

// APPEND (RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3), LITERAL+
// (RFC 7888), APPENDLIMIT (RFC 7889) and UTF8 (RFC 6855 §4).
//
// The message literal is streamed into the MIME parser, which writes large
// bodies to the blob store as it reads: a message is never held whole in
// memory. Refusals that need no message are made before the client sends
// it (the continuation request of a synchronising literal is only sent on
// the first read, see wire.Literal): an unknown mailbox gets
// "NO [TRYCREATE]", a message that cannot fit in the user's quota
// "NO [OVERQUOTA]" (RFC 9208 §5). The literal's size is bounded by the
// parser (wire.Limits.MaxLiteral, advertised as APPENDLIMIT), which answers
// a larger one with [TOOBIG] before this handler runs.
//
// The message is committed only after the whole command line is known to
// be well formed (Literal.Finish); a broken trailer gets BAD and stores
// nothing.

func init() {
	register("APPEND", handler{fn: (*Session).appendCmd, states: inAuth})
}

// literalReader passes a literal through and keeps the first error other
// than io.EOF, to tell a broken connection or a malformed command (which
// the parser reports while the message is read) from a parse failure.
type literalReader struct {
	r   io.Reader
	err error
}

func (l *literalReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

// literalError turns an error met while reading the literal into the
// session's answer: a *wire.SyntaxError as is (BAD), anything else closes
// the session (the connection broke mid-message).
func literalError(err error) error {
	var se *wire.SyntaxError
	if errors.As(err, &se) {
		return se
	}
	return closeSession(fmt.Errorf("append: read message: %w", err))
}

func (s *Session) appendCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.AppendArgs)
	lit := a.Message
	// A refusal leaves the literal unread: the answer goes out as soon as
	// the session waits for input (flushingReader), and the next
	// ReadCommand discards what the client sends of a LITERAL+ literal
	// (or of one already started) before the next command. An untouched
	// synchronising literal was never sent (no "+").
	for _, f := range a.Flags {
		if len(f) > 0 && f[0] == '\\' && !slices.Contains(systemFlags, f) {
			return bad("", "flag %s cannot be stored", f) // \Recent: RFC 3501 §2.3.2
		}
	}
	mb, err := s.findMailbox(a.Mailbox)
	if err != nil {
		return err
	}
	u, err := s.svc.Store.GetUser(s.ctx, s.user.ID)
	if err != nil {
		return fmt.Errorf("append: read quota: %w", err)
	}
	if u.QuotaLimit > 0 && u.StorageUsed+lit.Size > u.QuotaLimit {
		return no(wire.CodeOverQuota, "message does not fit in the quota (%d of %d bytes used)", u.StorageUsed, u.QuotaLimit)
	}
	lr := &literalReader{r: lit}
	nm, release, err := s.svc.Parse(s.ctx, lr)
	if lr.err != nil {
		release()
		return literalError(lr.err)
	}
	if err != nil {
		return fmt.Errorf("append to %q: %w", mb.Name, err)
	}
	defer release()
	if err := lit.Finish(); err != nil {
		return literalError(err)
	}
	nm.Flags = a.Flags
	nm.InternalDate = a.Date
	m, err := s.svc.Store.Append(s.ctx, s.user.ID, mb.ID, nm)
	if err != nil {
		return fmt.Errorf("append to %q: %w", mb.Name, err)
	}
	s.svc.Announce(s.ctx, s.user.ID)
	return okReply(wire.CodeAppendUID(mb.UIDValidity, m.UID), "APPEND completed")
}
