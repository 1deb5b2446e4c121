package pop3_test

// Two POP3 servers on one store sharing, through a real Redis, the
// failed-login counts and the maildrop lock (two instances in the
// distributed mode).

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/cluster/clustertest"

	"github.com/eidermail/eider/pop3"
)

// peer starts a second POP3 server on e's store and returns an env
// addressing its plain listener.
func (e *env) peer(tweak func(*pop3.Options)) *env {
	e.t.Helper()
	o := pop3.Options{Service: e.svc, AllowPlaintextLoopback: true, MaxFailures: 3, Log: slog.New(slog.DiscardHandler), Hostname: "pop2.test"}
	tweak(&o)
	p := *e
	p.srv = pop3.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go p.srv.Serve(ln)
	e.t.Cleanup(func() { p.srv.Close() })
	return &p
}

func TestClusterLoginLimiterAndLock(t *testing.T) {
	ca, cb := clustertest.Two(t, "pop3")
	a := newEnv(t, func(o *pop3.Options) {
		o.LoginLimiter, o.Locker = ca.LoginLimiter(3, time.Minute), ca.POP3Locker()
	})
	b := a.peer(func(o *pop3.Options) {
		o.LoginLimiter, o.Locker = cb.LoginLimiter(3, time.Minute), cb.POP3Locker()
	})
	a.user("alice", "alice@example.com")

	// One maildrop lock across the instances (RFC 1939 §8).
	c, r := dialRaw(t, a.addr)
	io.WriteString(c, "USER alice\r\nPASS pw\r\n")
	if got := readLines(t, r, 2); !strings.HasPrefix(got[1], "+OK maildrop has") {
		t.Fatalf("login on A: %q", got)
	}
	if o := b.poplib("plain", "alice", "pw", "login"); !strings.HasPrefix(o.str(0), "-ERR [IN-USE]") {
		t.Fatalf("second session, on B: %q", o.str(0))
	}
	io.WriteString(c, "QUIT\r\n")
	readLines(t, r, 1)

	// Failed logins on A and B add up, then both refuse the address.
	for _, env := range []*env{a, a, b} {
		if o := env.poplib("plain", "alice", "wrong", "login"); o.str(0) != "-ERR [AUTH] invalid login or password" {
			t.Fatalf("wrong password: %q", o.str(0))
		}
	}
	for _, env := range []*env{a, b} {
		o := env.poplib("plain", "alice", "pw", "login")
		if !strings.HasPrefix(o.str(0), "-ERR [AUTH] too many failed logins from your address") {
			t.Fatalf("right password from a blocked address: %q", o.str(0))
		}
	}
	// The refusal is the limiter's: a server without it lets alice in.
	free := a.peer(func(o *pop3.Options) {})
	if o := free.poplib("plain", "alice", "pw", "login", "quit"); !strings.HasPrefix(o.str(0), "+OK") {
		t.Fatalf("server without the limiter: %q", o.str(0))
	}
}
