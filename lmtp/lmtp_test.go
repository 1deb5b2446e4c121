package lmtp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

type env struct {
	svc        *mail.Service
	lmtp, smtp string
	lsrv, ssrv *lmtp.Server
	logs       chan string
}

func start(t *testing.T, maxSize int64) *env {
	t.Helper()
	return startTLS(t, maxSize, nil)
}

// startTLS is start with tlsConfig offered by the SMTP maildrop (STARTTLS).
func startTLS(t *testing.T, maxSize int64, tlsConfig *tls.Config) *env {
	t.Helper()
	lim := mimetree.DefaultLimits()
	lim.MaxSize = maxSize
	e := &env{svc: mailtest.NewService(t, "", "", lim), logs: make(chan string, 1000)}
	log := mailtest.LogTap(e.logs)
	d := delivery.New(e.svc, delivery.Options{SpamHeader: "X-Spam-Flag", SpamValue: "YES", DuplicateWindow: time.Hour, Log: log})
	o := lmtp.Options{Deliverer: d, Hostname: "mx.test", MaxMessageBytes: maxSize, MaxLineLength: 4096, Log: log}
	so := o
	so.TLS = tlsConfig
	e.lsrv, e.ssrv = lmtp.NewLMTP(o), lmtp.NewSMTP(so)
	for _, x := range []struct {
		s    *lmtp.Server
		addr *string
	}{{e.lsrv, &e.lmtp}, {e.ssrv, &e.smtp}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		*x.addr = ln.Addr().String()
		go x.s.Serve(ln)
	}
	t.Cleanup(func() {
		e.lsrv.Close()
		e.ssrv.Close()
	})
	return e
}

func (e *env) user(t *testing.T, name, addr string, quota int64) *store.User {
	t.Helper()
	u, err := e.svc.CreateUser(context.Background(), name, "pw", addr, quota)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) mailbox(t *testing.T, u *store.User, name string) []string {
	t.Helper()
	ctx := context.Background()
	mb, err := e.svc.Store.FindMailbox(ctx, u.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.svc.Store.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range msgs {
		rc, err := e.svc.Store.OpenMessage(ctx, &msgs[i], 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

type pyResult struct {
	TLS     string           `json:"tls"`
	Mail    []any            `json:"mail"`
	Rcpt    map[string][]any `json:"rcpt"`
	Refused map[string][]any `json:"refused"`
	Data    json.RawMessage  `json:"data"`
}

// send runs testdata/send.py (Python's smtplib) and decodes its report.
func send(t *testing.T, proto, addr, from string, msg []byte, rcpts ...string) pyResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("python3", append([]string{"testdata/send.py", proto, host, port, from}, rcpts...)...)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("send.py: %v\n%s", err, stderr.Bytes())
	}
	var r pyResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("send.py output %q: %v", out, err)
	}
	return r
}

func status(v []any) string {
	if len(v) != 2 {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%v %v", v[0], v[1])
}

func lmtpData(t *testing.T, r pyResult) map[string]string {
	t.Helper()
	var m map[string][]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = status(v)
	}
	return out
}

func message(id, extra string, bodyLen int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Sender <sender@example.org>\r\nTo: rcpt@example.com\r\nSubject: hello\r\nMessage-ID: <%s>\r\n%s\r\n", id, extra)
	for b.Len() < bodyLen {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
	}
	b.WriteString(".leading dot survives dot-stuffing\r\n")
	return []byte(b.String())
}

// One LMTP transaction, three recipients: unknown refused at RCPT with
// 550 5.1.1, then one 250 and one over-quota 552 5.2.2 after the data.
func TestLMTPPerRecipientStatus(t *testing.T) {
	e := start(t, 1<<20)
	alice := e.user(t, "alice", "alice@example.com", 0)
	full := e.user(t, "full", "full@example.com", 500)
	msg := message("per-rcpt@test", "", 2000)
	r := send(t, "lmtp", e.lmtp, "sender@example.org", msg, "Alice+tag@Example.COM", "nobody@example.com", "full@example.com")
	if got := status(r.Rcpt["nobody@example.com"]); !strings.HasPrefix(got, "550 5.1.1") {
		t.Errorf("unknown recipient: %s, want 550 5.1.1", got)
	}
	data := lmtpData(t, r)
	if !strings.HasPrefix(data["Alice+tag@Example.COM"], "250") || !strings.HasPrefix(data["full@example.com"], "552 5.2.2") || len(data) != 2 {
		t.Fatalf("per-recipient data replies: %v", data)
	}
	got := e.mailbox(t, alice, "INBOX")
	want := "Return-Path: <sender@example.org>\r\nDelivered-To: Alice+tag@Example.COM\r\n" + string(msg)
	if len(got) != 1 || got[0] != want {
		t.Fatalf("alice INBOX: %d messages; first differs from what was sent", len(got))
	}
	if n := len(e.mailbox(t, full, "INBOX")); n != 0 {
		t.Fatalf("over-quota user got %d messages", n)
	}
}

// A Cyrillic local part on an IDN domain, addressed in punycode form with
// SMTPUTF8, over LMTP and over the SMTP maildrop.
func TestUnicodeRecipient(t *testing.T) {
	e := start(t, 1<<20)
	u := e.user(t, "дмитрий", "дмитрий@пример.рф", 0)
	r := send(t, "lmtp", e.lmtp, "отправитель@пример.рф", message("u1@test", "", 100), "Дмитрий@xn--e1afmkfd.xn--p1ai")
	if d := lmtpData(t, r); !strings.HasPrefix(d["Дмитрий@xn--e1afmkfd.xn--p1ai"], "250") {
		t.Fatalf("lmtp: %+v %v", r, d)
	}
	r = send(t, "smtp", e.smtp, "отправитель@пример.рф", message("u2@test", "", 100), "дмитрий@пример.рф")
	if strings.ReplaceAll(string(r.Data), " ", "") != `[250,"ok"]` || len(r.Refused) != 0 {
		t.Fatalf("smtp: refused %v data %s", r.Refused, r.Data)
	}
	got := e.mailbox(t, u, "INBOX")
	if len(got) != 2 || !strings.HasPrefix(got[0], "Return-Path: <отправитель@пример.рф>\r\nDelivered-To: Дмитрий@xn--e1afmkfd.xn--p1ai\r\n") ||
		!strings.Contains(got[1], "Delivered-To: дмитрий@пример.рф\r\n") {
		t.Fatalf("INBOX: %q", got)
	}
}

// dial speaks raw SMTP/LMTP, to send what polite clients refuse to send.
func dial(t *testing.T, addr, hello string) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	id, _ := c.Cmd("%s test", hello)
	c.StartResponse(id)
	_, msg, err := c.ReadResponse(250)
	c.EndResponse(id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "SMTPUTF8") {
		t.Fatalf("SMTPUTF8 not advertised: %q", msg)
	}
	return c
}

func expect(t *testing.T, c *textproto.Conn, want int, format string, args ...any) string {
	t.Helper()
	id, err := c.Cmd(format, args...)
	if err != nil {
		t.Fatal(err)
	}
	return response(t, c, id, want, fmt.Sprintf(format, args...))
}

// response reads the reply to request id, which must have the code want;
// what names the request in the failure.
func response(t *testing.T, c *textproto.Conn, id uint, want int, what string) string {
	t.Helper()
	c.StartResponse(id)
	defer c.EndResponse(id)
	code, msg, err := c.ReadResponse(want)
	if err != nil {
		t.Fatalf("%s: %d %s (%v), want %d", what, code, msg, err, want)
	}
	return msg
}

// RFC 6531 §3.5: a non-ASCII address without SMTPUTF8 is refused, 553 5.6.7.
func TestSMTPUTF8Enforced(t *testing.T) {
	e := start(t, 1<<20)
	e.user(t, "дмитрий", "дмитрий@пример.рф", 0)
	for _, x := range []struct{ addr, hello string }{{e.lmtp, "LHLO"}, {e.smtp, "EHLO"}} {
		c := dial(t, x.addr, x.hello)
		if msg := expect(t, c, 553, "MAIL FROM:<отправитель@пример.рф>"); !strings.HasPrefix(msg, "5.6.7") {
			t.Errorf("MAIL: %q", msg)
		}
		expect(t, c, 250, "MAIL FROM:<a@example.org>")
		if msg := expect(t, c, 553, "RCPT TO:<дмитрий@пример.рф>"); !strings.HasPrefix(msg, "5.6.7") {
			t.Errorf("RCPT: %q", msg)
		}
		expect(t, c, 250, "RSET")
		expect(t, c, 250, "MAIL FROM:<a@example.org> SMTPUTF8")
		expect(t, c, 250, "RCPT TO:<дмитрий@xn--e1afmkfd.xn--p1ai>")
	}
}

// The SMTP maildrop through smtplib.sendmail: spam goes to Junk, a second
// delivery of one Message-ID is accepted and stored once, a message over
// the size limit is refused with 552 5.3.4, an unknown user with 550 5.1.1.
func TestSMTPMaildrop(t *testing.T) {
	e := start(t, 64<<10)
	alice := e.user(t, "alice", "alice@example.com", 0)
	if r := send(t, "smtp", e.smtp, "s@example.org", message("spam@test", "X-Spam-Flag: YES\r\n", 100), "alice@example.com"); strings.ReplaceAll(string(r.Data), " ", "") != `[250,"ok"]` {
		t.Fatalf("spam: %s", r.Data)
	}
	for range 2 {
		if r := send(t, "smtp", e.smtp, "s@example.org", message("dup@test", "", 100), "alice@example.com"); strings.ReplaceAll(string(r.Data), " ", "") != `[250,"ok"]` {
			t.Fatalf("dup: %s", r.Data)
		}
	}
	r := send(t, "smtp", e.smtp, "s@example.org", message("big@test", "", 100<<10), "alice@example.com")
	if !strings.Contains(string(r.Data), "552") || !strings.Contains(string(r.Data), "5.3.4") {
		t.Fatalf("oversize (SIZE declared): %s", r.Data)
	}
	// Over LMTP, where the script declares no SIZE: refused while reading.
	r = send(t, "lmtp", e.lmtp, "s@example.org", message("big2@test", "", 100<<10), "alice@example.com")
	if d := lmtpData(t, r); !strings.HasPrefix(d["alice@example.com"], "552 5.3.4") {
		t.Fatalf("oversize data: %v", d)
	}
	r = send(t, "smtp", e.smtp, "s@example.org", message("x@test", "", 100), "bob@example.com")
	if !strings.HasPrefix(status(r.Refused["bob@example.com"]), "550 5.1.1") {
		t.Fatalf("unknown: %+v", r)
	}
	if junk, inbox := e.mailbox(t, alice, "Junk"), e.mailbox(t, alice, "INBOX"); len(junk) != 1 || len(inbox) != 1 ||
		!strings.Contains(junk[0], "spam@test") || !strings.Contains(inbox[0], "dup@test") {
		t.Fatalf("Junk %d, INBOX %d messages", len(junk), len(inbox))
	}
}

// Shutdown waits for a delivery in progress: the client that is halfway
// through its data finishes and gets 250; new connections are refused.
func TestShutdownLetsDeliveryFinish(t *testing.T) {
	e := start(t, 1<<20)
	alice := e.user(t, "alice", "alice@example.com", 0)
	c := dial(t, e.lmtp, "LHLO")
	expect(t, c, 250, "MAIL FROM:<s@example.org>")
	expect(t, c, 250, "RCPT TO:<alice@example.com>")
	expect(t, c, 354, "DATA")
	w := bufio.NewWriter(c.W)
	w.WriteString("Subject: in flight\r\n\r\nfirst half\r\n")
	w.Flush()
	for m := range e.logs {
		if m == "delivery started" {
			break
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.lsrv.Shutdown(ctx)
	}()
	// Wait until the listener is closed: a new connection fails.
	for {
		nc, err := net.Dial("tcp", e.lmtp)
		if err != nil {
			break
		}
		nc.Close()
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v before the delivery finished", err)
		default:
		}
	}
	w.WriteString("second half\r\n.\r\n")
	w.Flush()
	code, msg, err := c.ReadResponse(250)
	if err != nil {
		t.Fatalf("in-flight delivery: %d %s %v", code, msg, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := e.mailbox(t, alice, "INBOX"); len(got) != 1 || !strings.HasSuffix(got[0], "first half\r\nsecond half\r\n") {
		t.Fatalf("INBOX: %q", got)
	}
}
