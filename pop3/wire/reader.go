package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned by Reader.ReadLine for a line over the limit.
// The rest of that line has been consumed, so the next ReadLine starts at
// the next line and the session can answer -ERR and go on.
var ErrLineTooLong = errors.New("line too long")

// Reader reads CRLF- (or LF-) terminated lines of at most Max bytes,
// terminator included. Memory use is bounded by Max, whatever the peer sends.
type Reader struct {
	r   *bufio.Reader
	max int
}

// NewReader returns a Reader over r. max < 255 is raised to 255, the
// command length RFC 2449 §4 requires servers to accept.
func NewReader(r io.Reader, max int) *Reader {
	if max < 255 {
		max = 255
	}
	return &Reader{r: bufio.NewReaderSize(r, 4096), max: max}
}

// Reset makes the Reader read from r, discarding buffered input (STLS,
// RFC 2595 §4: nothing read before the TLS handshake may be used after it).
func (r *Reader) Reset(rd io.Reader) { r.r.Reset(rd) }

// Buffered is the number of bytes already read from the connection and
// not yet returned: a pipelining client's further commands (RFC 2449 §6.6).
func (r *Reader) Buffered() int { return r.r.Buffered() }

// ReadLine returns the next line without its terminator. At EOF after a
// partial line it returns io.ErrUnexpectedEOF.
func (r *Reader) ReadLine() ([]byte, error) {
	var line []byte
	for {
		frag, err := r.r.ReadSlice('\n')
		if len(line)+len(frag) > r.max {
			if err == nil {
				return nil, ErrLineTooLong
			}
			if err == bufio.ErrBufferFull {
				if derr := r.discardLine(); derr != nil {
					return nil, derr
				}
				return nil, ErrLineTooLong
			}
			return nil, err
		}
		line = append(line, frag...)
		switch err {
		case nil:
			line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
			return line, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}

func (r *Reader) discardLine() error {
	for {
		_, err := r.r.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}
