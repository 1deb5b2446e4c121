package lmtp_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/textproto"
	"strings"
	"testing"

	"github.com/eidermail/eider/certs"
	"github.com/eidermail/eider/lmtp"
)

// stuff dot-stuffs a body for DATA (RFC 5321 §4.5.2): a dot gets another in
// front of it where a line starts, at the start and after CR LF (a dot after
// a bare LF is not at a line start, for go-smtp nor for Eider). The end
// line follows, after a CR LF of its own when the body does not end so.
func stuff(body []byte) []byte {
	var out []byte
	start := true
	for i, c := range body {
		if start && c == '.' {
			out = append(out, '.')
		}
		out = append(out, c)
		start = c == '\n' && i > 0 && body[i-1] == '\r'
	}
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	return append(out, ".\r\n"...)
}

// transact runs MAIL, RCPT and DATA with body, stuffed, and returns the
// text of the reply to the data, which must have the code want.
func transact(t *testing.T, c *textproto.Conn, rcpt string, body []byte, want int) string {
	t.Helper()
	expect(t, c, 250, "MAIL FROM:<a@example.org>")
	expect(t, c, 250, "RCPT TO:<%s>", rcpt)
	expect(t, c, 354, "DATA")
	id := c.Next()
	c.StartRequest(id)
	_, err := c.W.Write(stuff(body))
	if err == nil {
		err = c.W.Flush()
	}
	c.EndRequest(id)
	if err != nil {
		t.Fatal(err)
	}
	return response(t, c, id, want, fmt.Sprintf("data of %d octets", len(body)))
}

// TestFastDataMatchesGoSMTP delivers the same messages through go-smtp's
// DATA reader and through dotReader, over LMTP and the SMTP maildrop, and
// compares what was stored: byte for byte the same, and the message as
// sent. The messages have dots at line starts, lines longer than go-smtp's
// 4 KiB buffer, empty lines, bare LFs before a dot line, and bodies that
// do not end in CR LF. It also shows that, with the go-smtp in go.mod,
// dotReader does take over (FastDataUsed).
func TestFastDataMatchesGoSMTP(t *testing.T) {
	e := start(t, 1<<20)
	u := e.user(t, "fd", "fd@example.com", 0)
	lines := []string{"plain text", ".", "..", ".leading", "", "x\n.", "bare\nLF", strings.Repeat("w", 3000), "tab\there", "..."}
	r := rand.New(rand.NewPCG(11, 12))
	var want []string
	before := lmtp.FastDataUsed()
	fast := 0
	for i := range 24 {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: a@example.org\r\nMessage-ID: <fd%d@test>\r\nSubject: dots %d\r\n\r\n", i, i)
		for range r.IntN(40) {
			b.WriteString(lines[r.IntN(len(lines))])
			b.WriteString("\r\n")
		}
		if i%5 == 4 {
			b.WriteString("no CR LF at the end.")
		}
		body := b.Bytes()
		on := i%2 == 1
		lmtp.SetFastData(on)
		if on {
			fast++
		}
		proto, addr := "LHLO", e.lmtp
		if i%4 >= 2 {
			proto, addr = "EHLO", e.smtp
		}
		c := dial(t, addr, proto)
		transact(t, c, "fd@example.com", body, 250)
		expect(t, c, 250, "RSET") // the connection is in step after the body
		stored := string(body)
		if !bytes.HasSuffix(body, []byte("\r\n")) {
			stored += "\r\n"
		}
		want = append(want, "Return-Path: <a@example.org>\r\nDelivered-To: fd@example.com\r\n"+stored)
	}
	lmtp.SetFastData(true)
	got := e.mailbox(t, u, "INBOX")
	if len(got) != len(want) {
		t.Fatalf("%d messages stored, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d (fast %v) stored as %q, want %q", i, i%2 == 1, got[i], want[i])
		}
	}
	if n := lmtp.FastDataUsed() - before; n != int64(fast) {
		t.Fatalf("dotReader read %d bodies, want %d: go-smtp's DATA reader is not what data.go expects", n, fast)
	}
}

// A body over the size limit is refused (552 5.3.4) and the rest of it,
// which holds lines that look like commands, is read as data to its end:
// the next transaction on the same connection is delivered, and only it.
func TestFastDataOverLimitKeepsStep(t *testing.T) {
	e := start(t, 8<<10)
	u := e.user(t, "ol", "ol@example.com", 0)
	var big bytes.Buffer
	big.WriteString("From: a@example.org\r\nMessage-ID: <big@test>\r\n\r\n")
	for big.Len() < 12<<10 {
		big.WriteString("RSET\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<ol@example.com>\r\nDATA\r\n.smuggled\r\n")
	}
	small := []byte("From: a@example.org\r\nMessage-ID: <small@test>\r\n\r\nafter the refused one\r\n")
	before := lmtp.FastDataUsed()
	for _, proto := range []string{"LHLO", "EHLO"} {
		addr := e.lmtp
		if proto == "EHLO" {
			addr = e.smtp
		}
		c := dial(t, addr, proto)
		if msg := transact(t, c, "ol@example.com", big.Bytes(), 552); !strings.HasPrefix(msg, "5.3.4") {
			t.Fatalf("%s: 552 %s, want 5.3.4", proto, msg)
		}
		transact(t, c, "ol@example.com", small, 250)
		expect(t, c, 250, "NOOP") // nothing of the refused body is left to answer
	}
	got := e.mailbox(t, u, "INBOX")
	if len(got) != 1 || !strings.HasSuffix(got[0], string(small)) {
		t.Fatalf("INBOX holds %d messages, want the small one once (the second is a duplicate): %q", len(got), got)
	}
	if n := lmtp.FastDataUsed() - before; n != 4 {
		t.Fatalf("dotReader read %d bodies, want 4", n)
	}
}

// After STARTTLS, where go-smtp keeps the line limit inside the TLS layer,
// the body is still read by dotReader, over go-smtp's buffer on top of TLS,
// and stored as sent (Python's smtplib, 100 KB with a dot-led line).
func TestFastDataAfterStartTLS(t *testing.T) {
	cfg, err := certs.Load("", "", t.TempDir(), slog.New(slog.DiscardHandler)) // self-signed
	if err != nil {
		t.Fatal(err)
	}
	e := startTLS(t, 1<<20, cfg)
	u := e.user(t, "tls", "tls@example.com", 0)
	msg := message("tls@test", "", 100<<10)
	before := lmtp.FastDataUsed()
	r := send(t, "smtp+starttls", e.smtp, "s@example.org", msg, "tls@example.com")
	if !strings.HasPrefix(r.TLS, "TLSv1.") || strings.ReplaceAll(string(r.Data), " ", "") != `[250,"ok"]` {
		t.Fatalf("smtp+starttls: tls %q, data %s", r.TLS, r.Data)
	}
	if n := lmtp.FastDataUsed() - before; n != 1 {
		t.Fatalf("dotReader read %d bodies, want 1", n)
	}
	got := e.mailbox(t, u, "INBOX")
	if len(got) != 1 || got[0] != "Return-Path: <s@example.org>\r\nDelivered-To: tls@example.com\r\n"+string(msg) {
		t.Fatalf("INBOX: %d messages, or the message differs from what was sent", len(got))
	}
}
