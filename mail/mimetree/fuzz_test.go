package mimetree

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// checkIMAPSyntax checks that s is one well-formed parenthesized IMAP list of
// NIL, numbers, quoted strings and literals (RFC 3501 §4, §9).
func checkIMAPSyntax(t testing.TB, s string) {
	t.Helper()
	depth := 0
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				t.Fatalf("unbalanced ) at %d in %q", i, s)
			}
			i++
			if depth == 0 && i != len(s) {
				t.Fatalf("trailing data after list at %d in %q", i, s)
			}
		case c == ' ':
			i++
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
				if i < len(s) && (s[i] == '\r' || s[i] == '\n' || s[i] >= 0x80) {
					t.Fatalf("bad byte in quoted string at %d in %q", i, s)
				}
			}
			if i >= len(s) {
				t.Fatalf("unterminated quoted string in %q", s)
			}
			i++
		case c == '{':
			j := bytes.IndexByte([]byte(s[i:]), '}')
			if j < 0 {
				t.Fatalf("bad literal in %q", s)
			}
			n, err := strconv.Atoi(s[i+1 : i+j])
			if err != nil || i+j+3+n > len(s) || s[i+j+1:i+j+3] != "\r\n" {
				t.Fatalf("bad literal at %d in %q", i, s)
			}
			i += j + 3 + n
		case s[i:] >= "NIL" && len(s)-i >= 3 && s[i:i+3] == "NIL":
			i += 3
		case c >= '0' && c <= '9':
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
		default:
			t.Fatalf("unexpected %q at %d in %q", c, i, s)
		}
	}
	if depth != 0 || len(s) == 0 || s[0] != '(' {
		t.Fatalf("unbalanced list %q", s)
	}
}

func FuzzRoundTrip(f *testing.F) {
	ents, _ := os.ReadDir(filepath.Join("testdata", "corpus"))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata", "corpus", e.Name()))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=\r=4=\n"))
	f.Add([]byte("From: a <b@c>, \"d\" (e) <@r,@s:f@g>;, :;\nTo: g:h;\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{InlineMax: 16, MaxDepth: 8, MaxParts: 50, MaxTextBytes: 256}
		st := newMemStore()
		pr, err := Parse(context.Background(), bytes.NewReader(data), st, lim)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		checkParsed(t, data, st, pr)
		checkIMAPSyntax(t, pr.Meta.BodyStructure)
		checkIMAPSyntax(t, pr.Meta.Body)
		checkIMAPSyntax(t, pr.Meta.Envelope)
		// Inline-only parsing gives the same metadata.
		pr2, err := Parse(context.Background(), bytes.NewReader(data), nil, lim)
		if err != nil {
			t.Fatalf("Parse inline: %v", err)
		}
		if pr2.Meta.BodyStructure != pr.Meta.BodyStructure || pr2.Meta.Text != pr.Meta.Text {
			t.Fatalf("metadata depends on the blob store")
		}
		if len(pr2.Segments) > 1 {
			t.Fatalf("inline-only parse has %d segments", len(pr2.Segments))
		}
	})
}
