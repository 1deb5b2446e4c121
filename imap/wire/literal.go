package wire

import (
	"io"
)

// Literal is the message literal of an APPEND command (RFC 3501 §6.3.11),
// handed to the session unread so that it can be streamed to storage.
//
// Lifetime: a Literal is valid until the next ReadCommand call on its
// Reader. The session may
//
//   - read it to the end: the Read call that returns the last of the Size
//     bytes also reads and checks the rest of the command line and returns
//     io.EOF; if that line holds anything unexpected, it returns a
//     *SyntaxError instead (the Reader is already resynchronised) and the
//     session must answer "<tag> BAD" and not store the message. io.Copy
//     and io.ReadAll surface that error, io.CopyN does not: call Finish
//     before committing the message in any case;
//   - or leave it (partly) unread, e.g. to answer "NO [TRYCREATE]" or
//     "NO [OVERQUOTA]": ReadCommand then discards the rest. If nothing was
//     read from a synchronising literal, no continuation request was sent
//     and the client has not sent the message (RFC 3501 §7.5 lets the
//     server answer NO instead of "+"), so nothing is discarded.
//
// The continuation request for a synchronising literal is sent lazily, by
// the first Read: a session can therefore refuse an APPEND (unknown
// mailbox, over quota given Size) before the client uploads anything.
type Literal struct {
	Size    int64 // octets announced by the client
	NonSync bool  // {n+}: the client sends it without waiting (RFC 7888)
	Binary  bool  // literal8 ~{n} (RFC 3516): may contain NUL

	r         *Reader
	trailer   byte  // byte expected after the literal before CRLF (')' for UTF8 (...)), or 0
	remaining int64 // contents not yet read
	started   bool  // the client is sending (or has sent) the contents
	err       error // sticky result once done or failed
	tag, name string
}

// Read reads the literal's contents. See Literal for the end-of-literal
// semantics.
func (l *Literal) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if !l.started {
		l.started = true
		if !l.NonSync {
			if err := l.r.cont(); err != nil {
				l.err = err
				return 0, err
			}
		}
	}
	if l.remaining == 0 {
		l.err = l.finish()
		return 0, l.err
	}
	if int64(len(p)) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.r.br.Read(p)
	l.remaining -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		l.err = err
		return n, err
	}
	if l.remaining == 0 {
		// Check the end of the command now, with the last bytes, so that
		// readers that stop after Size bytes (io.CopyN) see an error too.
		l.err = l.finish()
		return n, l.err
	}
	return n, nil
}

// Finish consumes whatever the session has not read of the literal, then
// the rest of the command line, and reports whether the APPEND command was
// well formed: nil; a *SyntaxError (the Reader is resynchronised: answer
// "<tag> BAD" and do not store the message); or the I/O or ContinueFunc
// error. A session calls it after streaming the message and before
// committing it. Calling it again returns the same result. Do not call it
// to refuse an APPEND: on an unread synchronising literal it would send the
// continuation request and make the client upload the message.
func (l *Literal) Finish() error {
	if l.err == nil {
		_, _ = io.Copy(io.Discard, l) // Read records the outcome in l.err
	}
	if l.err == io.EOF {
		return nil
	}
	return l.err
}

// finish reads the rest of the command line after the literal.
func (l *Literal) finish() error {
	r := l.r
	err := r.readLine()
	if err == errTooLong {
		err = &SyntaxError{Kind: KindTooLong, Msg: "command line too long"}
	} else if err == nil {
		if l.trailer != 0 {
			err = r.expect(l.trailer)
		}
		if err == nil && !r.eol() {
			// MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469) are not
			// supported: nothing may follow the message.
			err = errorf("unexpected data after APPEND message")
		}
	}
	if err == nil {
		return io.EOF
	}
	err = noEOF(err)
	if se, ok := err.(*SyntaxError); ok {
		se.Tag, se.Name = l.tag, l.name
		if derr := r.discardCommand(); derr != nil {
			return derr
		}
		return se
	}
	return err
}

// finishPending discards the unread part of the previous APPEND literal.
func (r *Reader) finishPending() error {
	l := r.pending
	if l == nil {
		return nil
	}
	r.pending = nil
	if !l.started && !l.NonSync {
		return nil // no continuation was sent: the client sent nothing
	}
	err := l.Finish()
	if se, ok := err.(*SyntaxError); ok && !se.Fatal {
		return nil // the Reader already resynchronised
	}
	return err
}
