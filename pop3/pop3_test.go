package pop3_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/certs"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3"
)

type env struct {
	t       *testing.T
	svc     *mail.Service
	srv     *pop3.Server
	addr    string // plain listener
	tlsAddr string // implicit TLS listener
	logs    chan string
	dir     string
}

func newEnv(t *testing.T, tweak func(*pop3.Options)) *env {
	t.Helper()
	dir := t.TempDir()
	lim := mimetree.DefaultLimits()
	lim.InlineMax = 512
	e := &env{t: t, dir: dir, logs: make(chan string, 1000), svc: mailtest.NewService(t, dir, "", lim)}
	tc, err := certs.Load("", "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := pop3.Options{Service: e.svc, TLS: tc, AllowPlaintextLoopback: true, MaxFailures: 3, Log: mailtest.LogTap(e.logs), Hostname: "pop.test"}
	if tweak != nil {
		tweak(&o)
	}
	e.srv = pop3.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr, e.tlsAddr = ln.Addr().String(), tln.Addr().String()
	go e.srv.Serve(ln)
	go e.srv.ServeTLS(tln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

func (e *env) user(name, addr string) *store.User {
	u, err := e.svc.CreateUser(context.Background(), name, "pw", addr, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) appendMsg(u *store.User, raw string) {
	ctx := context.Background()
	mb, err := e.svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.Append(ctx, u.ID, mb.ID, strings.NewReader(raw), nil, time.Time{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mailbox(u *store.User, name string) []store.Message {
	ctx := context.Background()
	mb, err := e.svc.Store.FindMailbox(ctx, u.ID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	ms, err := e.svc.Store.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1}}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *env) waitLog(msg string) {
	for m := range e.logs {
		if m == msg {
			return
		}
	}
}

type popOut struct {
	Welcome string            `json:"welcome"`
	STLS    string            `json:"stls"`
	Results []json.RawMessage `json:"results"`
}

func (o popOut) str(i int) string {
	var s string
	json.Unmarshal(o.Results[i], &s)
	return s
}

func (o popOut) list(i int) []string {
	var l []string
	json.Unmarshal(o.Results[i], &l)
	return l
}

func (o popOut) msg(i int) string {
	b, _ := base64.StdEncoding.DecodeString(o.str(i))
	return string(b)
}

// poplib runs testdata/pop.py (Python's poplib).
func (e *env) poplib(mode, login, pw string, actions ...string) popOut {
	e.t.Helper()
	addr := e.addr
	if mode == "ssl" {
		addr = e.tlsAddr
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("python3", append([]string{"testdata/pop.py", mode, host, port, login, pw}, actions...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("pop.py %v: %v\n%s", actions, err, stderr.Bytes())
	}
	var o popOut
	if err := json.Unmarshal(out, &o); err != nil || len(o.Results) != len(actions) {
		e.t.Fatalf("pop.py output %q: %v", out, err)
	}
	return o
}

func testMsg(i int) string {
	return fmt.Sprintf("From: a@example.org\r\nSubject: message %d\r\nMessage-ID: <m%d@test>\r\n\r\nline one of %d\r\n.dotted line\r\nline three\r\n", i, i, i)
}

func fill(e *env, u *store.User, n int) []string {
	var raws []string
	for i := 1; i <= n; i++ {
		raws = append(raws, testMsg(i))
		e.appendMsg(u, testMsg(i))
	}
	return raws
}

func TestPoplibSession(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", "alice@example.com")
	raws := fill(e, u, 3)
	o := e.poplib("plain", "alice@example.com", "pw", "capa", "login", "stat", "list", "uidl", "retr:2", "top:3:1", "top:1:0", "quit")
	if !strings.HasPrefix(o.Welcome, "+OK") {
		t.Fatalf("welcome %q", o.Welcome)
	}
	caps := o.list(0)
	for _, want := range []string{"TOP", "UIDL", "USER", "SASL PLAIN", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS", "IMPLEMENTATION Eider"} {
		if !slices.Contains(caps, want) {
			t.Errorf("CAPA lacks %q: %q", want, caps)
		}
	}
	size := 0
	for _, r := range raws {
		size += len(r)
	}
	if st := string(o.Results[2]); st != fmt.Sprintf("[3, %d]", size) {
		t.Errorf("STAT %s, want 3 %d", st, size)
	}
	if l := o.list(3); len(l) != 3 || l[0] != fmt.Sprintf("1 %d", len(raws[0])) {
		t.Errorf("LIST %q", l)
	}
	ms := e.mailbox(u, "INBOX")
	if l := o.list(4); len(l) != 3 || l[1] != "2 "+ms[1].ID || len(ms[1].ID) != 24 {
		t.Errorf("UIDL %q, ids %s", l, ms[1].ID)
	}
	if got := o.msg(5); got != raws[1] {
		t.Errorf("RETR 2 = %q, want %q", got, raws[1])
	}
	if got, want := o.msg(6), strings.SplitAfter(raws[2], "line one of 3\r\n")[0]; got != want {
		t.Errorf("TOP 3 1 = %q, want %q", got, want)
	}
	if got, want := o.msg(7), strings.SplitAfter(raws[0], "\r\n\r\n")[0]; got != want {
		t.Errorf("TOP 1 0 = %q, want %q", got, want)
	}
	ms = e.mailbox(u, "INBOX")
	for i, m := range ms {
		if seen := slices.Contains(m.Flags, store.FlagSeen); seen != (i == 1) {
			t.Errorf("message %d seen=%v after RETR 2 + QUIT", i+1, seen)
		}
	}
}

// A session dropped before QUIT changes nothing: no \Seen, nothing moved.
func TestDroppedSessionChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", "alice@example.com")
	fill(e, u, 3)
	o := e.poplib("plain", "alice", "pw", "login", "retr:1", "dele:2", "abort")
	if !strings.HasPrefix(o.str(2), "+OK") {
		t.Fatalf("DELE: %q", o.str(2))
	}
	e.waitLog("pop3 session ended without QUIT; changes discarded")
	ms := e.mailbox(u, "INBOX")
	if len(ms) != 3 || len(e.mailbox(u, "Trash")) != 0 {
		t.Fatalf("INBOX %d, Trash %d", len(ms), len(e.mailbox(u, "Trash")))
	}
	for _, m := range ms {
		if len(m.Flags) != 0 {
			t.Fatalf("uid %d flags %v", m.UID, m.Flags)
		}
	}
}

// DELE moves to Trash at QUIT, RSET undoes, UIDL is stable across sessions.
func TestDeleRsetQuitAndStableUIDL(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", "alice@example.com")
	fill(e, u, 4)
	o := e.poplib("plain", "alice", "pw", "login", "uidl", "dele:1", "retr:1", "rset", "retr:1", "dele:2", "dele:3", "stat", "quit")
	if !strings.HasPrefix(o.str(3), "-ERR") {
		t.Errorf("RETR of a deleted message: %q", o.str(3))
	}
	if string(o.Results[8]) == "" || !strings.HasPrefix(string(o.Results[8]), "[2,") {
		t.Errorf("STAT after two DELE: %s", o.Results[8])
	}
	before := o.list(1)
	inbox, trash := e.mailbox(u, "INBOX"), e.mailbox(u, "Trash")
	if len(inbox) != 2 || len(trash) != 2 {
		t.Fatalf("INBOX %d, Trash %d; want 2, 2", len(inbox), len(trash))
	}
	if !slices.Contains(inbox[0].Flags, store.FlagSeen) || len(inbox[1].Flags) != 0 {
		t.Errorf("INBOX flags %v %v", inbox[0].Flags, inbox[1].Flags)
	}
	o = e.poplib("plain", "alice", "pw", "login", "uidl", "quit")
	after := o.list(1)
	want := []string{"1 " + strings.Fields(before[0])[1], "2 " + strings.Fields(before[3])[1]}
	if !slices.Equal(after, want) {
		t.Fatalf("UIDL after: %q, want %q (before %q)", after, want, before)
	}
}

func TestDeleExpungeAndNewestN(t *testing.T) {
	e := newEnv(t, func(o *pop3.Options) { o.DeleAction = pop3.DeleExpunge; o.MaxMessages = 2 })
	u := e.user("alice", "alice@example.com")
	raws := fill(e, u, 3)
	o := e.poplib("plain", "alice", "pw", "login", "list", "retr:1", "dele:2", "quit")
	if l := o.list(1); len(l) != 2 {
		t.Fatalf("LIST shows %d, want the newest 2", len(l))
	}
	if o.msg(2) != raws[1] {
		t.Fatalf("message 1 of the listing should be the second newest")
	}
	if len(e.mailbox(u, "INBOX")) != 2 || len(e.mailbox(u, "Trash")) != 0 {
		t.Fatal("expunge mode: want 2 in INBOX, none in Trash")
	}
}

// dialRaw logs in over a raw connection and keeps the session open.
func dialRaw(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("greeting %q", l)
	}
	return c, r
}

func readLines(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		out = append(out, strings.TrimRight(l, "\r\n"))
	}
	return out
}

// Pipelined commands are answered in order; a second session on the same
// maildrop gets [IN-USE]; long lines and bad commands get -ERR.
func TestPipeliningLockAndErrors(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", "alice@example.com")
	fill(e, u, 2)
	c, r := dialRaw(t, e.addr)
	io.WriteString(c, "CAPA\r\nUSER alice\r\nPASS pw\r\nSTAT\r\nLIST\r\nFROB\r\nRETR 9\r\n"+strings.Repeat("N", 5000)+"\r\nNOOP\r\n")
	got := readLines(t, r, 10+1+1+1+1+4+1+1+1+1)
	joined := strings.Join(got, "\n")
	for _, want := range []string{"+OK send PASS", "+OK maildrop has 2 messages", "-ERR unknown command FROB", "-ERR no such message", "-ERR command line too long"} {
		if !strings.Contains(joined, want) {
			t.Fatalf("pipelined responses lack %q:\n%s", want, joined)
		}
	}
	if got[len(got)-1] != "+OK" {
		t.Fatalf("last response %q, want NOOP's +OK", got[len(got)-1])
	}
	o := e.poplib("plain", "alice", "pw", "login")
	if !strings.HasPrefix(o.str(0), "-ERR [IN-USE]") {
		t.Fatalf("second session: %q", o.str(0))
	}
	io.WriteString(c, "QUIT\r\n")
	readLines(t, r, 1)
	if o := e.poplib("plain", "alice", "pw", "login"); !strings.HasPrefix(o.str(0), "+OK") {
		t.Fatalf("after the first session quit: %q", o.str(0))
	}
}

func TestFailedLoginsDisconnect(t *testing.T) {
	e := newEnv(t, func(o *pop3.Options) { o.MaxFailures = 2; o.FailureDelay = time.Millisecond })
	e.user("alice", "alice@example.com")
	c, r := dialRaw(t, e.addr)
	io.WriteString(c, "USER alice\r\nPASS wrong\r\nAUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00nope"))+"\r\n")
	got := readLines(t, r, 3)
	if got[1] != "-ERR [AUTH] invalid login or password" || !strings.HasPrefix(got[2], "-ERR [AUTH]") || !strings.Contains(got[2], "closing") {
		t.Fatalf("responses %q", got)
	}
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Fatalf("connection not closed after the failures: %v", err)
	}
}

// Plaintext logins are refused on plain connections when loopback is not
// trusted; STLS and the implicit-TLS listener work with poplib.
func TestTLSAndPlaintextRefusal(t *testing.T) {
	e := newEnv(t, func(o *pop3.Options) { o.AllowPlaintextLoopback = false })
	u := e.user("alice", "alice@example.com")
	fill(e, u, 1)
	o := e.poplib("plain", "alice", "pw", "capa", "login", "auth")
	if caps := o.list(0); slices.Contains(caps, "USER") || !slices.Contains(caps, "STLS") {
		t.Errorf("plain CAPA %q: want STLS, no USER", caps)
	}
	if !strings.HasPrefix(o.str(1), "-ERR [AUTH]") || !strings.HasPrefix(o.str(2), "-ERR [AUTH]") {
		t.Fatalf("plaintext login: %q / %q", o.str(1), o.str(2))
	}
	o = e.poplib("stls", "alice", "pw", "capa", "login", "stat", "quit")
	if !strings.HasPrefix(o.STLS, "+OK") || !slices.Contains(o.list(0), "USER") || slices.Contains(o.list(0), "STLS") {
		t.Fatalf("after STLS: %q caps %q", o.STLS, o.list(0))
	}
	if !strings.HasPrefix(o.str(1), "+OK") || string(o.Results[2])[:2] != "[1" {
		t.Fatalf("login over STLS: %q %s", o.str(1), o.Results[2])
	}
	o = e.poplib("ssl", "alice", "pw", "auth", "retr:1", "quit")
	if !strings.HasPrefix(o.str(0), "+OK") || o.msg(1) != testMsg(1) {
		t.Fatalf("implicit TLS: %q", o.str(0))
	}
	// The implicit-TLS listener really speaks TLS with the configured cert.
	tc, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	tc.Close()
}

// A Cyrillic user on an IDN domain: delivered to the punycode form, fetched
// with poplib by the Unicode address and with curl by the username.
func TestUnicodeDeliveredAndFetched(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("дмитрий", "дмитрий@пример.рф")
	d := delivery.New(e.svc, delivery.Options{Log: mailtest.LogTap(e.logs)})
	rc, err := d.Resolve(context.Background(), "Дмитрий@xn--e1afmkfd.xn--p1ai")
	if err != nil {
		t.Fatal(err)
	}
	raw := "From: отправитель@пример.рф\r\nSubject: =?UTF-8?B?0L/RgNC40LLQtdGC?=\r\n\r\nпривет\r\n"
	res := d.Deliver(context.Background(), &delivery.Envelope{From: "отправитель@пример.рф", Recipients: []delivery.Recipient{*rc}}, strings.NewReader(raw))
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	want := "Return-Path: <отправитель@пример.рф>\r\nDelivered-To: Дмитрий@xn--e1afmkfd.xn--p1ai\r\n" + raw
	o := e.poplib("plain", "дмитрий@пример.рф", "pw", "login", "retr:1", "quit")
	if o.msg(1) != want {
		t.Fatalf("poplib RETR %q, want %q", o.msg(1), want)
	}
	// curl, a second independent client: list and retrieve.
	_, port, _ := net.SplitHostPort(e.addr)
	url := "pop3://%D0%B4%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9:pw@127.0.0.1:" + port
	out, err := exec.Command("curl", "-sS", url+"/").Output()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("1 %d", len(want)) {
		t.Fatalf("curl list: %q %v", out, err)
	}
	out, err = exec.Command("curl", "-sS", url+"/1").Output()
	if err != nil || string(out) != want {
		t.Fatalf("curl RETR: %q %v", out, err)
	}
	if ms := e.mailbox(u, "INBOX"); !slices.Contains(ms[0].Flags, store.FlagSeen) {
		t.Fatalf("RETR by curl + QUIT: flags %v", ms[0].Flags)
	}
}

// Shutdown ends idle sessions without applying their changes and returns.
func TestShutdownEndsIdleSessions(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user("alice", "alice@example.com")
	fill(e, u, 1)
	c, r := dialRaw(t, e.addr)
	io.WriteString(c, "USER alice\r\nPASS pw\r\nDELE 1\r\n")
	readLines(t, r, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "-ERR [SYS/TEMP]") {
		t.Fatalf("idle session got %q at shutdown", l)
	}
	if len(e.mailbox(u, "INBOX")) != 1 {
		t.Fatal("DELE applied without QUIT")
	}
}
