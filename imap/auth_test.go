package imap

import (
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

func TestAuthenticatePlain(t *testing.T) {
	e := newTestEnv(t, nil)
	// imaplib sends AUTHENTICATE PLAIN and answers the "+" continuation.
	out := e.python(`
M = connect()
typ, data = M.authenticate("PLAIN", lambda _: ("\0" + USER + "\0" + PASS).encode())
assert typ == "OK", (typ, data)
assert M.state == "AUTH", M.state
M2 = connect()
try:
    M2.authenticate("PLAIN", lambda _: ("\0" + USER + "\0wrong").encode())
    print("accepted")
except M2.error as ex:
    print("refused", ex)
`)
	if !strings.Contains(out, "refused") || !strings.Contains(out, "AUTHENTICATIONFAILED") {
		t.Errorf("wrong password: %q", out)
	}
	// go-imap v2 uses SASL-IR (initial response on the command line).
	var wire syncBuffer
	c := e.dial(&imapclient.Options{DebugWriter: &wire})
	if err := c.Authenticate(sasl.NewPlainClient("", "alice@example.com", testPassword)); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(wire.String(), "AUTHENTICATE PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@example.com\x00"+testPassword))) {
		t.Errorf("client did not use SASL-IR:\n%s", wire.String())
	}
	// Raw: cancel with "*" is BAD; a foreign authzid is refused.
	r := e.raw()
	r.send("a1 AUTHENTICATE PLAIN")
	if l := r.line(); l != "+ " && l != "+" {
		t.Fatalf("continuation: %q", l)
	}
	r.send("*")
	if l := r.line(); !strings.HasPrefix(l, "a1 BAD") {
		t.Errorf("cancel: %q", l)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("bob\x00alice\x00" + testPassword))
	if out := r.cmd("a2 AUTHENTICATE PLAIN " + ir); !strings.HasPrefix(out[len(out)-1], "a2 NO") {
		t.Errorf("authzid of another user: %q", out)
	}
	if out := r.cmd("a3 AUTHENTICATE CRAM-MD5"); !strings.HasPrefix(out[len(out)-1], "a3 NO") {
		t.Errorf("unknown mechanism: %q", out)
	}
}

func TestPlaintextRefusedWithoutTLS(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.AllowPlaintextLoopback = false })
	r := e.raw()
	caps := r.cmd("a1 CAPABILITY")
	if !hasLine(caps, "LOGINDISABLED") || hasLine(caps, "AUTH=PLAIN") || !hasLine(caps, "STARTTLS") {
		t.Errorf("capabilities without TLS: %q", caps)
	}
	if out := r.cmd(`a2 LOGIN alice "` + testPassword + `"`); !strings.HasPrefix(out[len(out)-1], "a2 NO [PRIVACYREQUIRED]") {
		t.Errorf("LOGIN without TLS: %q", out)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + testPassword))
	if out := r.cmd("a3 AUTHENTICATE PLAIN " + ir); !strings.HasPrefix(out[len(out)-1], "a3 NO") {
		t.Errorf("AUTHENTICATE without TLS: %q", out)
	}
	// imaplib: STARTTLS, then capabilities change and LOGIN works.
	out := e.python(`
import ssl
M = connect()
assert "LOGINDISABLED" in M.capabilities, M.capabilities
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ok(M.starttls(ssl_context=ctx))
assert "LOGINDISABLED" not in M.capabilities, M.capabilities
assert "STARTTLS" not in M.capabilities, M.capabilities
assert "AUTH=PLAIN" in M.capabilities, M.capabilities
ok(M.login(USER, PASS))
print("caps", " ".join(M.capabilities))
M.logout()
M = connect_tls()
assert "STARTTLS" not in M.capabilities and "AUTH=PLAIN" in M.capabilities, M.capabilities
ok(M.login(USER, PASS))
ok(M.select("INBOX"))
M.logout()
print("done")
`)
	if !strings.Contains(out, "done") {
		t.Errorf("python: %q", out)
	}
	// go-imap's STARTTLS client works as well.
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", testPassword).Wait(); err != nil {
		t.Fatalf("login after STARTTLS: %v", err)
	}
}

func TestStartTLSInjectionRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	// A command pipelined behind STARTTLS in the same packet must not run.
	r.send("a1 STARTTLS\r\na2 LOGIN alice x")
	if l := r.line(); !strings.HasPrefix(l, "a1 BAD") {
		t.Fatalf("STARTTLS with pipelined data: %q", l)
	}
}

func TestFailedLoginLimit(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.MaxFailures = 2; o.FailureDelay = 10 * time.Millisecond })
	r := e.raw()
	if out := r.cmd("a1 LOGIN alice wrong"); !strings.HasPrefix(out[len(out)-1], "a1 NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("first failure: %q", out)
	}
	out := r.cmd("a2 LOGIN nobody wrong")
	if !hasLine(out, "* BYE") || !strings.HasPrefix(out[len(out)-1], "a2 NO") {
		t.Fatalf("second failure: %q", out)
	}
	r.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := r.r.ReadString('\n'); err == nil {
		t.Error("connection still open after too many failures")
	}
}
