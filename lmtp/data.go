package lmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"sync/atomic"

	"github.com/emersion/go-smtp"
)

// The DATA body (RFC 5321 §4.5.2 and §4.1.1.4, RFC 2033 §4.2).
//
// go-smtp hands the session a reader that removes the dot-stuffing one
// octet at a time: a bufio.Reader.ReadByte call and a state switch per
// octet. For a 200 KB message that loop was a quarter of the server's CPU
// (docs/benchmarks.md, sessions 5 and 6). dotReader does the same work a
// line at a time, with bytes.IndexByte, over the same buffered connection.
// go-smtp still owns the connection: it reads the commands, answers them,
// and reads the end-of-data line itself, because dotReader stops in front
// of it.

// fastData turns the line-at-a-time reader off when false, for tests that
// compare it with go-smtp's own.
var fastData atomic.Bool

func init() { fastData.Store(true) }

// fastDataUsed counts the DATA bodies read by dotReader (tests check that
// the go-smtp version in go.mod still lets it take over).
var fastDataUsed atomic.Int64

// dataBody returns the reader the session should take the body from, and a
// function to call when it is done with it, before returning to go-smtp.
// When r is go-smtp's DATA reader, untouched, the body is read by a
// dotReader over r's buffered connection; otherwise (BDAT chunks, or a
// go-smtp whose reader is not as expected) r is used as it is.
func dataBody(r io.Reader, maxBytes int64) (io.Reader, func()) {
	br := goSMTPBuffer(r)
	if br == nil || !fastData.Load() {
		return r, func() {}
	}
	fastDataUsed.Add(1)
	d := &dotReader{br: br, lineStart: true, left: -1}
	if maxBytes > 0 {
		d.left = maxBytes
	}
	return d, d.finish
}

var bufioReaderType = reflect.TypeOf((*bufio.Reader)(nil))

// goSMTPBuffer returns the buffered connection behind go-smtp's DATA reader
// (type dataReader: field r *bufio.Reader, field state int, 0 before the
// first octet is read), or nil when r is anything else. The fields are
// unexported, so they are read through reflect; the type, the fields' names
// and types and the state are all checked, and a go-smtp that changes any
// of them only loses the fast path (TestFastDataMatchesGoSMTP fails then).
func goSMTPBuffer(r io.Reader) *bufio.Reader {
	v := reflect.ValueOf(r)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	e := v.Elem()
	t := e.Type()
	if t.Kind() != reflect.Struct || t.Name() != "dataReader" || t.PkgPath() != smtpPkgPath {
		return nil
	}
	fr, fs := e.FieldByName("r"), e.FieldByName("state")
	if !fr.IsValid() || fr.Type() != bufioReaderType || fr.IsNil() || !fs.IsValid() || fs.Kind() != reflect.Int || fs.Int() != 0 {
		return nil
	}
	return (*bufio.Reader)(fr.UnsafePointer())
}

var smtpPkgPath = reflect.TypeOf(smtp.SMTPError{}).PkgPath()

// dotReader reads a DATA body from the buffered connection: it removes the
// leading dot of every line that has one and stops in front of the
// end-of-data line ".\r\n", which it leaves unread.
//
// A line starts after CRLF only (or at the start of the body), as in
// go-smtp's reader: a dot after a bare LF is data, and ".\r\n" after a bare
// LF does not end the body.
//
// Invariant: after finish, the buffer is at the end-of-data line (or the
// connection has failed), so go-smtp's reader, which has read nothing and
// is in its beginning-of-line state, reads that line and reports the end,
// as it would have at the same place.
type dotReader struct {
	br *bufio.Reader
	// lineStart: the next octet begins a line.
	lineStart bool
	// cr: within a line, the last octet passed on was '\r'.
	cr bool
	// left is how many more octets the body may have (the size limit);
	// negative when there is no limit.
	left int64
	// err is sticky: io.EOF at the end-of-data line, or the failure.
	err error
}

func (d *dotReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		if d.br.Buffered() == 0 {
			if n > 0 {
				return n, nil // pass on what is here before waiting for more
			}
			if _, err := d.br.Peek(1); err != nil {
				return n, d.fail(err)
			}
		}
		if d.lineStart {
			b, _ := d.br.Peek(1)
			if b[0] == '.' {
				b, err := d.br.Peek(3)
				if len(b) == 3 && b[1] == '\r' && b[2] == '\n' {
					d.err = io.EOF // the end-of-data line, left for go-smtp
					return n, d.err
				}
				if len(b) < 3 && err != nil {
					return n, d.fail(err)
				}
				d.br.Discard(1) // the stuffing dot (§4.5.2)
				if d.br.Buffered() == 0 {
					// The dot was the last octet buffered: what follows is
					// this line's data.
					d.lineStart = false
					continue
				}
			}
			d.lineStart = false
		}
		buf, _ := d.br.Peek(d.br.Buffered())
		if len(buf) > len(p)-n {
			buf = buf[:len(p)-n]
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i+1]
			d.lineStart = i > 0 && buf[i-1] == '\r' || i == 0 && d.cr
			d.cr = false
		} else {
			d.cr = buf[len(buf)-1] == '\r'
		}
		if d.left >= 0 {
			if int64(len(buf)) > d.left {
				d.err = smtp.ErrDataTooLarge
				return n, d.err
			}
			d.left -= int64(len(buf))
		}
		c := copy(p[n:], buf)
		d.br.Discard(c)
		n += c
	}
	return n, nil
}

func (d *dotReader) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF // the connection ended inside the body
	}
	d.err = err
	return err
}

// finish reads and discards what is left of the body, without the size
// limit, so that the buffer ends at the end-of-data line (the invariant
// above). On a failed connection it stops; go-smtp meets the same failure.
func (d *dotReader) finish() {
	if d.err == io.EOF {
		return
	}
	if d.err != nil && !errors.Is(d.err, smtp.ErrDataTooLarge) {
		return
	}
	d.err, d.left = nil, -1
	var scratch [4096]byte
	for {
		if _, err := d.Read(scratch[:]); err != nil {
			return
		}
	}
}
