package main

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// TestStuff checks the raw client's dot-stuffing against net/textproto's
// reader, which undoes it (RFC 5321 §4.5.2): what goes in comes out, and
// the stream ends at the terminating line.
func TestStuff(t *testing.T) {
	for _, msg := range []string{
		"",
		"a\r\n",
		".\r\n",
		"..\r\n",
		".leading\r\nmiddle\r\n.\r\n.x\r\nend",
		"no final newline",
		"x\r\n.\r\n\r\n..\r\n",
	} {
		out := stuff(nil, []byte(msg))
		if msg != "" && !bytes.HasSuffix(out, []byte("\r\n.\r\n")) || msg == "" && string(out) != ".\r\n" {
			t.Errorf("%q: stuffed %q does not end the data properly", msg, out)
		}
		r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(out, "TRAILER\r\n"...))))
		got, err := r.ReadDotBytes()
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		want := bytes.ReplaceAll([]byte(msg), []byte("\r\n"), []byte("\n"))
		if msg != "" && !bytes.HasSuffix(want, []byte("\n")) {
			want = append(want, '\n')
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%q: round trip gave %q, want %q", msg, got, want)
		}
		if rest, _ := r.ReadLine(); rest != "TRAILER" {
			t.Errorf("%q: after the message came %q, want TRAILER", msg, rest)
		}
	}
}
