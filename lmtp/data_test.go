package lmtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/emersion/go-smtp"
)

// unstuff is the reference for dotReader, RFC 5321 §4.5.2 octet by octet:
// a line begins at the start and after CR LF; the line "." ends the body
// (rest is what follows the body, from that line on); a leading dot is
// removed. ended is false when in has no end-of-data line; then a dot line
// start cut off within its first three octets is left out.
func unstuff(in []byte) (body, rest []byte, ended bool) {
	lineStart := true
	for i := 0; i < len(in); i++ {
		c := in[i]
		if lineStart && c == '.' {
			if bytes.HasPrefix(in[i:], []byte(".\r\n")) {
				return body, in[i:], true
			}
			if len(in)-i < 3 {
				// Cut off before it can tell: the stream failed, and what
				// was passed on is refused anyway.
				return body, nil, false
			}
			lineStart = false
			continue
		}
		lineStart = c == '\n' && i > 0 && in[i-1] == '\r'
		body = append(body, c)
	}
	return body, nil, false
}

// pieces hands out its bytes in pieces of random size, as a socket does.
type pieces struct {
	b []byte
	r *rand.Rand
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(b), len(p.b), 1+p.r.IntN(300))
	copy(b, p.b[:n])
	p.b = p.b[n:]
	return n, nil
}

// checkDotReader reads in through a dotReader (bufio buffer of bufSize,
// Reads of random sizes) and compares with unstuff: the same body, the
// same end, and after finish the buffer at the end-of-data line.
func checkDotReader(t *testing.T, in []byte, bufSize int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	src := &pieces{b: in, r: r}
	br := bufio.NewReaderSize(src, bufSize)
	d := &dotReader{br: br, lineStart: true, left: -1}
	var got []byte
	var err error
	for err == nil {
		p := make([]byte, 1+r.IntN(700))
		var n int
		n, err = d.Read(p)
		got = append(got, p[:n]...)
	}
	body, rest, ended := unstuff(in)
	if !bytes.Equal(got, body) {
		t.Fatalf("input %q: body %q, want %q", in, got, body)
	}
	if ended != (err == io.EOF) || !ended && err != io.ErrUnexpectedEOF {
		t.Fatalf("input %q: err %v, want ended=%v", in, err, ended)
	}
	d.finish()
	left, _ := io.ReadAll(br)
	if ended && !bytes.Equal(left, rest) {
		t.Fatalf("input %q: left %q after the body, want %q", in, left, rest)
	}
}

// TestDotReader compares dotReader with unstuff on random streams made of
// the lines that matter: stuffed dots, the end line, bare CR and LF, empty
// and long lines (longer than the buffer).
func TestDotReader(t *testing.T) {
	parts := []string{"abc", ".", "..", ".\r\n", "\r\n", "\r", "\n", ".\r", "x\r\n", "\r\r\n", "..\r\n", ".x\r\n"}
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 20000 {
		var in []byte
		for range r.IntN(30) {
			if r.IntN(20) == 0 {
				in = append(in, bytes.Repeat([]byte("y"), r.IntN(200))...)
			} else {
				in = append(in, parts[r.IntN(len(parts))]...)
			}
		}
		if r.IntN(4) > 0 {
			in = append(in, "\r\n.\r\nMAIL FROM:<a@b>\r\n"...)
		}
		checkDotReader(t, in, 16+r.IntN(100), uint64(i))
	}
}

func FuzzDotReader(f *testing.F) {
	f.Add([]byte("a\r\n..b\r\n.\r\nQUIT\r\n"), uint8(0), uint64(1))
	f.Add([]byte(".\r\n"), uint8(3), uint64(2))
	f.Add([]byte("a\n.\r\n\r\r\n.\r\n"), uint8(9), uint64(3))
	f.Add([]byte(".\rx\r\n.\r"), uint8(1), uint64(4))
	f.Fuzz(func(t *testing.T, in []byte, size uint8, seed uint64) {
		checkDotReader(t, in, 16+int(size), seed)
	})
}

// The size limit counts octets after unstuffing: a body of exactly the
// limit passes; one octet more is ErrDataTooLarge, and finish still moves
// to the end-of-data line, so the rest is not taken for commands.
func TestDotReaderLimit(t *testing.T) {
	body := "Subject: x\r\n\r\n..dot\r\nend\r\n" // 25 octets after unstuffing
	const size = 25
	for _, limit := range []int64{size, size - 1} {
		br := bufio.NewReaderSize(bytes.NewReader([]byte(body+".\r\nRSET\r\n")), 16)
		d := &dotReader{br: br, lineStart: true, left: limit}
		got, err := io.ReadAll(d)
		if limit == size && (err != nil || len(got) != size) {
			t.Fatalf("limit %d: %d octets, %v", limit, len(got), err)
		}
		if limit < size && !errors.Is(err, smtp.ErrDataTooLarge) {
			t.Fatalf("limit %d: err %v, want ErrDataTooLarge", limit, err)
		}
		d.finish()
		if left, _ := io.ReadAll(br); string(left) != ".\r\nRSET\r\n" {
			t.Fatalf("limit %d: left %q", limit, left)
		}
	}
}

// goSMTPBuffer takes over nothing but go-smtp's own DATA reader.
func TestGoSMTPBufferOthers(t *testing.T) {
	for _, r := range []io.Reader{nil, bytes.NewReader(nil), bufio.NewReader(bytes.NewReader(nil)), (*bytes.Reader)(nil), io.LimitReader(nil, 0)} {
		if goSMTPBuffer(r) != nil {
			t.Fatalf("took over a %T", r)
		}
	}
}
