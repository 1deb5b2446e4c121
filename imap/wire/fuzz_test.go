package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// countingReader counts the bytes the Reader pulls from the connection.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

var fuzzSeeds = []string{
	"a1 LOGIN {4}\r\nfred {6+}\r\nsecret\r\n",
	"A003 APPEND saved (\\Seen) \" 5-Jul-2023 10:11:12 +0200\" {5}\r\nhello\r\nA4 NOOP\r\n",
	"5 APPEND x {3+}\r\nabc junk\r\n6 APPEND y UTF8 (~{2+}\r\nhi)\r\n",
	"a UID SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR (UNSEEN FROM joe) NOT (OR DELETED KEYWORD $Junk) UID 1:*,$ MODSEQ \"/flags/\\\\draft\" all 5\r\n",
	"5 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.1024> BINARY[1.2] BODY[1.MIME]) (CHANGEDSINCE 7 VANISHED)\r\n",
	"d105 UID STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
	"A01 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n",
	"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))\r\n",
	"3 ID (\"name\" \"Thunderbird\" \"os\" NIL)\r\nt CREATE \"Sent\" (USE (\\Sent))\r\nS SETQUOTA \"\" (STORAGE 512)\r\n",
	"a1 AUTHENTICATE PLAIN =\r\na2 IDLE\r\nDONE\r\na3 COMPRESS DEFLATE\r\n",
	"a1 FROB {11+}\r\nb1 LOGOUT\r\n\r\nc STATUS INBOX (UIDNEXT)\r\n",
	"a1 LOGIN " + strings.Repeat("x", 300) + " {20+}\r\nb1 NOOP\r\nb2 NOOP\r\nc\r\n",
	"a1 APPEND x {99999999999999999999+}\r\n",
	"a1 SEARCH ((((((((NOT NOT ALL))))))))\r\n",
}

// FuzzReadCommand checks that arbitrary input never panics, always makes
// progress (no endless loop), respects the limits, and that every error is
// one of the documented kinds.
func FuzzReadCommand(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	lim := Limits{MaxLine: 256, MaxLiteral: 1024, MaxBuffered: 2048, MaxDepth: 20, MaxDrain: 4096}
	f.Fuzz(func(t *testing.T, data []byte) {
		cr := &countingReader{r: bytes.NewReader(data)}
		conts := 0
		r := NewReader(cr, lim, func() error { conts++; return nil })
		for iter := 0; ; iter++ {
			if iter > len(data)+1 {
				t.Fatalf("no progress after %d iterations", iter)
			}
			before := cr.n + 0
			consumedBefore := before - r.Buffered()
			cmd, err := r.ReadCommand()
			if len(r.line) > lim.MaxLine || cap(r.buf) > 4*(lim.MaxLine+2) {
				t.Fatalf("line buffer beyond limit: %d/%d", len(r.line), cap(r.buf))
			}
			if r.used > lim.MaxBuffered+int64(lim.MaxLine) {
				t.Fatalf("buffered %d beyond limit", r.used)
			}
			if err != nil {
				var se *SyntaxError
				if !errors.As(err, &se) {
					if err != io.EOF && err != io.ErrUnexpectedEOF {
						t.Fatalf("unexpected error type %T %v", err, err)
					}
					return
				}
				if se.Fatal {
					return
				}
				if consumed := cr.n - r.Buffered(); consumed <= consumedBefore {
					t.Fatalf("error without progress: %v", se)
				}
				continue
			}
			if cmd.Tag == "" || cmd.Name == "" {
				t.Fatalf("empty tag or name: %+v", cmd)
			}
			if a, ok := cmd.Args.(*AppendArgs); ok {
				if a.Message == nil || a.Message.Size > lim.MaxLiteral {
					t.Fatalf("bad APPEND literal %+v", a.Message)
				}
				switch iter % 3 { // consume, finish, or abandon it
				case 0:
					b, err := io.ReadAll(a.Message)
					if err == nil && int64(len(b)) != a.Message.Size {
						t.Fatalf("literal size %d, read %d", a.Message.Size, len(b))
					}
				case 1:
					err1 := a.Message.Finish()
					if err2 := a.Message.Finish(); err1 != err2 {
						t.Fatalf("Finish not idempotent: %v, %v", err1, err2)
					}
				}
			}
			if cmd.Name == "IDLE" || cmd.Name == "AUTHENTICATE" {
				l, err := r.ReadLine()
				if err == nil && len(l) > lim.MaxLine {
					t.Fatalf("ReadLine returned %d bytes", len(l))
				}
				if err != nil {
					var se *SyntaxError
					if !errors.As(err, &se) {
						return
					}
				}
			}
		}
	})
}

// FuzzQuote checks that every encoded string parses back to itself with the
// Reader's own lexer, and the modified UTF-7 round trips.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "INBOX", "NIL", `a"b\c`, "line\r\n", "naïve", "\xff", "&-", "&AMQ-rger", "~peter/&U,BTFw-"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, utf8ok bool) {
		for _, enc := range []string{QuoteString(s, utf8ok), FormatAString(s, utf8ok)} {
			got, _, err := parseBack(enc, false)
			if strings.IndexByte(s, 0) >= 0 {
				if err == nil {
					t.Fatalf("NUL accepted in %q", enc)
				}
				continue
			}
			if err != nil || got != s {
				t.Fatalf("%q encoded %q parses as %q, %v", s, enc, got, err)
			}
			if !utf8ok && enc[0] != '{' && !isASCII(s) {
				t.Fatalf("8-bit quoted without UTF8=ACCEPT: %q", enc)
			}
		}
		if utf8.ValidString(s) {
			m := EncodeMUTF7(s)
			if !isASCII(m) {
				t.Fatalf("EncodeMUTF7(%q) = %q not ASCII", s, m)
			}
			back, err := DecodeMUTF7(m)
			if err != nil || back != s {
				t.Fatalf("mUTF-7 %q -> %q -> %q, %v", s, m, back, err)
			}
		}
		if d, err := DecodeMUTF7(s); err == nil {
			if again := EncodeMUTF7(d); again != s {
				t.Fatalf("non-canonical mUTF-7 accepted: %q -> %q -> %q", s, d, again)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
