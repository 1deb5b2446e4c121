package imap

// Test harness shared by every test of this package (session core and
// message commands). Everything is real: the SQLite core from mailtest, a
// Server on loopback sockets, Python's imaplib, go-imap v2's client.
//
//	e := newTestEnv(t, nil)                  // server + user "alice" / testPassword (t: testing.TB)
//	out := e.python(`M = login(); M.select("INBOX"); print(M.search(None, "ALL"))`)
//	c := e.client(nil)                       // go-imap v2 client, logged in as alice
//	r := e.raw(); r.cmd("a1 LOGIN alice pw") // raw protocol lines
//	e.appendMsg(e.alice, "INBOX", raw, `\Seen`) // through mail.Service (announced)

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/eidermail/eider/certs"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// testPassword is the password of every user the harness creates.
const testPassword = "correct horse"

// waitTimeout bounds every wait for a response in tests.
const waitTimeout = 10 * time.Second

type testEnv struct {
	t       testing.TB
	dir     string
	svc     *mail.Service
	srv     *Server
	opt     Options
	addr    string // plain listener (STARTTLS-capable)
	tlsAddr string // implicit TLS listener
	logs    chan string
	alice   *store.User
}

// newTestEnv starts a server with TLS on two loopback listeners and creates
// the user "alice" (address alice@example.com, password testPassword).
// tweak may change the options before the server starts.
func newTestEnv(t testing.TB, tweak func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	lim := mimetree.DefaultLimits()
	lim.InlineMax = 512
	e := &testEnv{t: t, dir: dir, logs: make(chan string, 10000)}
	e.svc = mailtest.NewService(t, dir, "", lim)
	tc, err := certs.Load("", "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.opt = Options{Service: e.svc, TLS: tc, AllowPlaintextLoopback: true, Log: mailtest.LogTap(e.logs), Hostname: "imap.test"}
	if tweak != nil {
		tweak(&e.opt)
	}
	e.srv = NewServer(e.opt)
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
	e.alice = e.addUser("alice", "alice@example.com")
	return e
}

// addUser creates a user with testPassword.
func (e *testEnv) addUser(name, addr string) *store.User {
	e.t.Helper()
	u, err := e.svc.CreateUser(context.Background(), name, testPassword, addr, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// mailbox returns a user's mailbox by store name.
func (e *testEnv) mailbox(u *store.User, name string) *store.Mailbox {
	e.t.Helper()
	mb, err := e.svc.Store.FindMailbox(context.Background(), u.ID, name)
	if err != nil {
		e.t.Fatalf("mailbox %q: %v", name, err)
	}
	return mb
}

// appendMsg appends raw through mail.Service (so the change is announced
// on the bus, like a delivery) and returns the stored message.
func (e *testEnv) appendMsg(u *store.User, mailbox, raw string, flags ...string) *store.Message {
	e.t.Helper()
	mb := e.mailbox(u, mailbox)
	m, err := e.svc.Append(context.Background(), u.ID, mb.ID, strings.NewReader(raw), flags, time.Time{})
	if err != nil {
		e.t.Fatalf("append: %v", err)
	}
	return m
}

// testMessage is a small valid message with a distinct subject.
func testMessage(subject string) string {
	return "From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: " + subject +
		"\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
		"@example.org>\r\n\r\nHello " + subject + "\r\n"
}

// corpusMessage reads a message of the shared MIME corpus.
func corpusMessage(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "mail", "mimetree", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pythonPrelude is prepended to every Python script: connection helpers
// and the environment's address and credentials.
const pythonPrelude = `
import imaplib, os, sys, ssl, base64, time
HOST = os.environ["IMAP_HOST"]
PORT = int(os.environ["IMAP_PORT"])
TLSPORT = int(os.environ["IMAP_TLS_PORT"])
USER = os.environ.get("IMAP_USER", "alice")
PASS = os.environ["IMAP_PASS"]
def connect():
    return imaplib.IMAP4(HOST, PORT)
def connect_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return imaplib.IMAP4_SSL(HOST, TLSPORT, ssl_context=ctx)
def login(user=None):
    M = connect()
    M.login(user or USER, PASS)
    return M
def ok(res):
    typ, data = res
    assert typ == "OK", (typ, data)
    return data
def committed():
    # the wall-clock time a change was acknowledged, for push latencies
    print("COMMITTED %d" % time.time_ns(), flush=True)
`

// python runs script (after pythonPrelude) with python3 and returns its
// standard output; a non-zero exit (a failed assert) fails the test with
// the script's stderr. extraEnv entries are KEY=VALUE.
func (e *testEnv) python(script string, extraEnv ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", pythonPrelude+script)
	host, port, _ := net.SplitHostPort(e.addr)
	_, tport, _ := net.SplitHostPort(e.tlsAddr)
	cmd.Env = append(os.Environ(), "IMAP_HOST="+host, "IMAP_PORT="+port, "IMAP_TLS_PORT="+tport, "IMAP_PASS="+testPassword)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("python: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// client returns a go-imap v2 client connected to the plain listener and
// logged in as alice; closed at the end of the test.
func (e *testEnv) client(opt *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c := e.dial(opt)
	if err := c.Login("alice", testPassword).Wait(); err != nil {
		e.t.Fatalf("login: %v", err)
	}
	return c
}

// dial returns a go-imap v2 client connected, not logged in.
func (e *testEnv) dial(opt *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialInsecure(e.addr, opt)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// rawClient speaks the protocol line by line, for exact wire checks.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// raw connects to the plain listener and reads the greeting.
func (e *testEnv) raw() *rawClient {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: e.t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		e.t.Fatalf("greeting: %q", g)
	}
	return c
}

// rawTLS connects to the implicit-TLS listener and reads the greeting.
func (e *testEnv) rawTLS() *rawClient {
	e.t.Helper()
	conn, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: e.t, conn: conn, r: bufio.NewReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		e.t.Fatalf("greeting: %q", g)
	}
	return c
}

// send writes one line (CRLF added).
func (c *rawClient) send(line string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// line reads one line (CRLF stripped) within waitTimeout.
func (c *rawClient) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

// cmd sends "tag rest" (line is "tag rest") and returns every line up to
// and including the tagged response.
func (c *rawClient) cmd(line string) []string {
	c.t.Helper()
	tag, _, _ := strings.Cut(line, " ")
	c.send(line)
	return c.until(tag + " ")
}

// until reads lines until one starts with prefix; it returns them all.
func (c *rawClient) until(prefix string) []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, prefix) {
			return out
		}
	}
}

// expectOK runs a command and fails unless its tagged answer is OK.
func (c *rawClient) expectOK(line string) []string {
	c.t.Helper()
	out := c.cmd(line)
	tag, _, _ := strings.Cut(line, " ")
	if last := out[len(out)-1]; !strings.HasPrefix(last, tag+" OK") {
		c.t.Fatalf("%s: %q", line, out)
	}
	return out
}

// login logs in as alice with LOGIN.
func (c *rawClient) login() {
	c.t.Helper()
	c.expectOK(fmt.Sprintf("L1 LOGIN alice %q", testPassword))
}

// waitLog waits for a log message containing substr.
func (e *testEnv) waitLog(substr string) {
	e.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-e.logs:
			if strings.Contains(m, substr) {
				return
			}
		case <-deadline:
			e.t.Fatalf("no log message containing %q", substr)
		}
	}
}

// hasLine reports whether some line contains substr.
func hasLine(lines []string, substr string) bool {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for a client's debug output written
// from its reading goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func itoa(n int64) string { return fmt.Sprint(n) }

func storeQuota(limit int64) store.UserUpdate { return store.UserUpdate{QuotaLimit: &limit} }
