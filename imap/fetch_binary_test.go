package imap

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestFetchBinary: BINARY[part], BINARY.PEEK with a partial and
// BINARY.SIZE (RFC 3516) give the decoded content of base64 and
// quoted-printable parts, checked against Go's encoders' input, through
// go-imap's client; a part that does not exist is NIL, an unknown
// encoding NO [UNKNOWN-CTE].
func TestFetchBinary(t *testing.T) {
	e := newTestEnv(t, nil)
	bin := make([]byte, 50000)
	for i := range bin {
		bin[i] = byte(i*7 + i/251)
	}
	var b64 strings.Builder
	enc := base64.StdEncoding.EncodeToString(bin)
	for len(enc) > 76 {
		b64.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b64.WriteString(enc)
	text := "Grüße = \"quoted\"\r\nA long line " + strings.Repeat("wörd ", 40) + "\r\nend"
	var qp bytes.Buffer
	qw := quotedprintable.NewWriter(&qp)
	qw.Write([]byte(text))
	qw.Close()
	raw := "From: a@example.org\r\nSubject: binary\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n" +
		"--Z\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() +
		"\r\n--Z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64.String() +
		"\r\n--Z\r\nContent-Type: text/plain\r\n\r\nplain part\r\n" +
		"--Z\r\nContent-Type: application/x-thing\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n" +
		"--Z--\r\n"
	e.appendMsg(e.alice, "INBOX", raw)

	c := e.client(nil)
	if !c.Caps().Has(imap.CapBinary) {
		t.Fatalf("BINARY not advertised: %v", c.Caps())
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	s1 := &imap.FetchItemBinarySection{Part: []int{1}, Peek: true}
	s2 := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	s2p := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true, Partial: &imap.SectionPartial{Offset: 12345, Size: 1000}}
	s3 := &imap.FetchItemBinarySection{Part: []int{3}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BinarySection:     []*imap.FetchItemBinarySection{s1, s2, s3},
		BinarySectionSize: []*imap.FetchItemBinarySectionSize{{Part: []int{1}}, {Part: []int{2}}, {Part: []int{3}}},
		Flags:             true,
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	m := msgs[0]
	if got := m.FindBinarySection(s1); string(got) != text {
		t.Errorf("BINARY[1] = %q, want %q", got, text)
	}
	if got := m.FindBinarySection(s2); !bytes.Equal(got, bin) {
		t.Errorf("BINARY[2]: %d bytes, want %d", len(got), len(bin))
	}
	// A partial BINARY answer carries no origin (RFC 3516 grammar), so it
	// is fetched alone.
	pm, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BinarySection: []*imap.FetchItemBinarySection{s2p}}).Collect()
	if err != nil || len(pm) != 1 {
		t.Fatal(pm, err)
	}
	if got := pm[0].FindBinarySection(s2p); !bytes.Equal(got, bin[12345:13345]) {
		t.Errorf("BINARY[2]<12345.1000>: %d bytes", len(got))
	}
	if got := m.FindBinarySection(s3); string(got) != "plain part" {
		t.Errorf("BINARY[3] = %q", got)
	}
	for part, want := range map[int]int{1: len(text), 2: len(bin), 3: len("plain part")} {
		if got, ok := m.FindBinarySectionSize([]int{part}); !ok || int(got) != want {
			t.Errorf("BINARY.SIZE[%d] = %d (%v), want %d", part, got, ok, want)
		}
	}
	if len(m.Flags) != 0 {
		t.Errorf("BINARY.PEEK changed flags: %v", m.Flags)
	}

	r := e.raw()
	r.login()
	r.expectOK("s SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"b1 FETCH 1 BINARY.PEEK[4]", "b1 NO [UNKNOWN-CTE]"},
		{"b2 FETCH 1 BINARY.PEEK[9]", "BINARY[9] NIL"},
		{"b3 FETCH 1 BINARY.SIZE[9]", "BINARY.SIZE[9] 0)"},
		{"b4 FETCH 1 BINARY[3]<6.100>", "BINARY[3] ~{4}\r\npart"},
		{"b5 FETCH 1 BINARY.PEEK[]<0.5>", "BINARY[] ~{5}\r\nFrom:"},
	} {
		tag, _, _ := strings.Cut(tc.cmd, " ")
		r.send(tc.cmd)
		if got := r.readResponse(tag); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
	// b4 was not PEEK: it set \Seen.
	if out := r.expectOK("f FETCH 1 FLAGS"); !hasLine(out, `\Seen`) {
		t.Errorf("BINARY[] did not set \\Seen: %q", out)
	}
}
