package wire

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// RespCode is an extended response code (RFC 2449 §8), sent in brackets
// at the start of the text of a -ERR response.
type RespCode string

const (
	CodeNone RespCode = ""
	// CodeInUse: the maildrop is locked by another session (RFC 2449 §8.1.1).
	CodeInUse RespCode = "IN-USE"
	// CodeLoginDelay: logged in too soon after the last login (§8.1.2).
	CodeLoginDelay RespCode = "LOGIN-DELAY"
	// CodeSysTemp: a temporary server problem (RFC 3206 §4).
	CodeSysTemp RespCode = "SYS/TEMP"
	// CodeSysPerm: a permanent server problem (RFC 3206 §4).
	CodeSysPerm RespCode = "SYS/PERM"
	// CodeAuth: the credentials were wrong (RFC 3206 §5).
	CodeAuth RespCode = "AUTH"
)

// Writer encodes responses. Output is buffered: the session calls Flush
// when it has answered every command the client pipelined (RFC 2449 §6.6),
// so the responses go out in order and in few packets.
type Writer struct {
	w *bufio.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 8192)} }

// Reset makes the Writer write to w, dropping unflushed output.
func (w *Writer) Reset(wr io.Writer) { w.w.Reset(wr) }

// Flush sends buffered responses.
func (w *Writer) Flush() error { return w.w.Flush() }

// clean keeps CR and LF out of a response line.
func clean(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// OK writes "+OK" and text (RFC 1939 §3).
func (w *Writer) OK(text string) {
	w.w.WriteString("+OK")
	if text != "" {
		w.w.WriteString(" ")
		w.w.WriteString(clean(text))
	}
	w.w.WriteString("\r\n")
}

// Err writes "-ERR", the response code in brackets if any, and text.
func (w *Writer) Err(code RespCode, text string) {
	w.w.WriteString("-ERR")
	if code != CodeNone {
		w.w.WriteString(" [")
		w.w.WriteString(string(code))
		w.w.WriteString("]")
	}
	if text != "" {
		w.w.WriteString(" ")
		w.w.WriteString(clean(text))
	}
	w.w.WriteString("\r\n")
}

// Continue writes a SASL continuation "+ base64" (RFC 5034 §4).
func (w *Writer) Continue(b64 string) {
	w.w.WriteString("+ ")
	w.w.WriteString(clean(b64))
	w.w.WriteString("\r\n")
}

// Lines writes the lines of a multi-line response body and its
// terminating "." line (RFC 1939 §3), byte-stuffing each line.
func (w *Writer) Lines(lines ...string) {
	for _, l := range lines {
		l = clean(l)
		if strings.HasPrefix(l, ".") {
			w.w.WriteString(".")
		}
		w.w.WriteString(l)
		w.w.WriteString("\r\n")
	}
	w.w.WriteString(".\r\n")
}

// Body returns a writer for the body of a multi-line response (RETR,
// TOP). It byte-stuffs lines that start with "." (RFC 1939 §3), turns a
// bare LF or bare CR into CRLF, and on Close ends an unterminated last
// line with CRLF and writes the terminating ".". Close does not flush.
func (w *Writer) Body() io.WriteCloser { return &dotWriter{w: w.w, bol: true} }

type dotWriter struct {
	w      *bufio.Writer
	bol    bool // at the beginning of a line
	pendCR bool // the last byte written was a CR not yet followed by LF
}

func (d *dotWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		if d.pendCR {
			d.pendCR = false
			if c == '\n' {
				d.w.WriteString("\r\n")
				d.bol = true
				continue
			}
			d.w.WriteString("\r\n") // bare CR ends a line
			d.bol = true
		}
		switch {
		case c == '\r':
			d.pendCR = true
			continue
		case c == '\n':
			d.w.WriteString("\r\n")
			d.bol = true
			continue
		}
		if d.bol && c == '.' {
			d.w.WriteByte('.')
		}
		d.bol = false
		if err := d.w.WriteByte(c); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func (d *dotWriter) Close() error {
	if d.pendCR {
		d.w.WriteString("\r\n")
		d.pendCR, d.bol = false, true
	}
	if !d.bol {
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// Top copies the header of the message read from r and then at most n
// lines of its body (RFC 1939 §7 TOP) to w. The header ends at the first
// empty line; a message without one is all header.
func Top(w io.Writer, r io.Reader, n int) error {
	br := bufio.NewReader(r)
	inHeader, bol := true, true
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			if bol && !inHeader {
				if n <= 0 {
					return nil
				}
				n--
			}
			if bol && inHeader && (bytes.Equal(frag, []byte("\r\n")) || bytes.Equal(frag, []byte("\n"))) {
				inHeader = false
			}
			if _, werr := w.Write(frag); werr != nil {
				return werr
			}
			bol = frag[len(frag)-1] == '\n'
		}
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}
