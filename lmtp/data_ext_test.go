package lmtp_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

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
	r := mrand.New(mrand.NewPCG(11, 12))
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
		expect(t, c, 250, "MAIL FROM:<a@example.org>")
		expect(t, c, 250, "RCPT TO:<fd@example.com>")
		expect(t, c, 354, "DATA")
		id := c.Next()
		c.StartRequest(id)
		if _, err := c.W.Write(stuff(body)); err != nil || c.W.Flush() != nil {
			t.Fatal(err)
		}
		c.EndRequest(id)
		c.StartResponse(id)
		if _, msg, err := c.ReadResponse(250); err != nil {
			t.Fatalf("message %d (%s, fast %v): %v %s", i, proto, on, err, msg)
		}
		c.EndResponse(id)
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
		for i, body := range [][]byte{big.Bytes(), small} {
			expect(t, c, 250, "MAIL FROM:<a@example.org>")
			expect(t, c, 250, "RCPT TO:<ol@example.com>")
			expect(t, c, 354, "DATA")
			id := c.Next()
			c.StartRequest(id)
			if _, err := c.W.Write(stuff(body)); err != nil || c.W.Flush() != nil {
				t.Fatal(err)
			}
			c.EndRequest(id)
			c.StartResponse(id)
			want := 250
			if i == 0 {
				want = 552
			}
			code, msg, err := c.ReadResponse(want)
			c.EndResponse(id)
			if err != nil || i == 0 && !strings.HasPrefix(msg, "5.3.4") {
				t.Fatalf("%s message %d: %d %s (%v), want %d", proto, i, code, msg, err, want)
			}
		}
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

// selfSigned is a certificate for 127.0.0.1 made for one test.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// After STARTTLS, where go-smtp keeps the line limit inside the TLS layer,
// the body is still read by dotReader, over go-smtp's buffer on top of TLS,
// and stored as sent (Python's smtplib, 100 KB with a dot-led line).
func TestFastDataAfterStartTLS(t *testing.T) {
	e := startTLS(t, 1<<20, selfSigned(t))
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
