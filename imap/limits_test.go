package imap

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/imap/wire"
)

func TestQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	limit := int64(10 << 20)
	if _, err := e.svc.Store.UpdateUser(context.Background(), e.alice.ID, storeQuota(limit)); err != nil {
		t.Fatal(err)
	}
	m := e.appendMsg(e.alice, "INBOX", testMessage("quota"))
	out := e.python(`
M = login()
typ, data = M.getquotaroot("INBOX")
assert typ == "OK", (typ, data)
print(data)
typ, data = M.getquota('""')
assert typ == "OK", (typ, data)
print(data)
typ, data = M.setquota('""', "(STORAGE 1)")
assert typ == "NO", (typ, data)
typ, data = M.getquota("other")
assert typ == "NO", (typ, data)
`)
	usage := (m.Size + 1023) / 1024
	want := "(STORAGE " + itoa(usage) + " " + itoa(limit/1024) + ")"
	if strings.Count(out, want) != 2 || !strings.Contains(out, `[b'INBOX ""']`) {
		t.Errorf("quota: %q, want %s twice", out, want)
	}
}

func TestLineAndLiteralLimits(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Limits = wire.Limits{MaxLine: 1024, MaxBuffered: 2048, MaxLiteral: 4096} })
	r := e.raw()
	r.login()
	caps := r.expectOK("a1 CAPABILITY")
	if !hasLine(caps, "APPENDLIMIT=4096") {
		t.Errorf("APPENDLIMIT: %q", caps)
	}
	out := r.cmd("a2 NOOP " + strings.Repeat("x", 2000))
	if !strings.Contains(out[len(out)-1], "BAD") {
		t.Errorf("overlong line: %q", out)
	}
	// A literal larger than MaxBuffered outside APPEND.
	r.send("a3 CREATE {5000}")
	if l := r.line(); !strings.Contains(l, "BAD") || !strings.Contains(l, "TOOBIG") {
		t.Errorf("oversized literal: %q", l)
	}
	r.expectOK("a4 NOOP") // the session goes on
}

func TestBadCommandLimit(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.MaxBadCommands = 3 })
	r := e.raw()
	r.cmd("a1 FROB")
	r.cmd("a2 FROB")
	r.send("a3 FROB")
	out := r.until("* BYE")
	if !hasLine(out, "a3 BAD") && !hasLine(out, "* BYE") {
		t.Errorf("third bad command: %q", out)
	}
	r.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := r.r.ReadString('\n'); err == nil {
		t.Error("connection open after too many bad commands")
	}
}

func TestConnectionLimits(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.MaxConnectionsPerIP = 2 })
	e.raw()
	e.raw()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := &rawClient{t: t, conn: c, r: newReader(c)}
	if l := rc.line(); !strings.HasPrefix(l, "* BYE [UNAVAILABLE]") {
		t.Errorf("third connection from one address: %q", l)
	}

	e2 := newTestEnv(t, func(o *Options) { o.MaxConnections = 1 })
	e2.raw()
	c2, err := net.Dial("tcp", e2.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	rc2 := &rawClient{t: t, conn: c2, r: newReader(c2)}
	if l := rc2.line(); !strings.HasPrefix(l, "* BYE [UNAVAILABLE]") {
		t.Errorf("connection over the total: %q", l)
	}
}

func TestTimeouts(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.PreAuthTimeout = 200 * time.Millisecond; o.IdleTimeout = 300 * time.Millisecond })
	r := e.raw()
	if l := r.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("pre-auth timeout: %q", l)
	}
	r2 := e.raw()
	r2.login()
	r2.expectOK("a1 SELECT INBOX")
	if l := r2.line(); !strings.HasPrefix(l, "* BYE") || !strings.Contains(l, "autologout") {
		t.Errorf("idle timeout: %q", l)
	}
	// IDLE is bounded by the same timeout.
	r3 := e.raw()
	r3.login()
	r3.send("i1 IDLE")
	if l := r3.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	if l := r3.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("IDLE timeout: %q", l)
	}
}

func TestConnectionsPerUser(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.MaxConnectionsPerUser = 1 })
	r1 := e.raw()
	r1.login()
	r2 := e.raw()
	if out := r2.cmd(`a LOGIN alice "` + testPassword + `"`); !strings.HasPrefix(out[len(out)-1], "a NO [LIMIT]") {
		t.Fatalf("second session of one user: %q", out)
	}
	r1.expectOK("z LOGOUT")
	// The session is counted out before its connection closes: once r1
	// reads EOF, the user may log in again.
	r1.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := r1.r.ReadString('\n'); err == nil {
		t.Fatal("connection open after LOGOUT")
	}
	r2.expectOK(`b LOGIN alice "` + testPassword + `"`)
}
