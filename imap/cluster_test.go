package imap

// Two IMAP servers on one store, sharing failed-login counts and per-user
// session counts through a real Redis (as two instances in the
// distributed mode).

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/cluster/clustertest"
)

// peer starts a second server on e's store with options o (Service, TLS and
// the rest filled in from e) and returns an environment addressing it.
func (e *testEnv) peer(tweak func(*Options)) *testEnv {
	e.t.Helper()
	p := *e
	p.opt.Log = slog.New(slog.DiscardHandler)
	tweak(&p.opt)
	p.srv = NewServer(p.opt)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	go p.srv.Serve(ln)
	e.t.Cleanup(func() { p.srv.Close() })
	return &p
}

func TestClusterLoginLimiter(t *testing.T) {
	ca, cb := clustertest.Two(t, "imap")
	a := newTestEnv(t, func(o *Options) { o.LoginLimiter = ca.LoginLimiter(3, time.Minute) })
	b := a.peer(func(o *Options) { o.LoginLimiter = cb.LoginLimiter(3, time.Minute) })

	r := a.raw()
	for i := 1; i <= 2; i++ {
		out := r.cmd(fmt.Sprintf("F%d LOGIN alice wrong", i))
		if last := out[len(out)-1]; !strings.HasPrefix(last, fmt.Sprintf("F%d NO [AUTHENTICATIONFAILED]", i)) {
			t.Fatalf("wrong password on A: %q", out)
		}
	}
	// The third failure, on the other instance, reaches the limit.
	out := b.raw().cmd("G1 LOGIN alice wrong")
	if last := out[len(out)-1]; !strings.HasPrefix(last, "G1 NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("wrong password on B: %q", out)
	}
	// Now even the right password is refused, on both instances, by a real
	// client, without being checked.
	for _, env := range []*testEnv{a, b} {
		got := env.python(`
M = connect()
try:
    M.login(USER, PASS)
    print("LOGGED IN")
except M.error as e:
    print("REFUSED", e)
`)
		if !strings.Contains(got, "REFUSED") || !strings.Contains(got, "[UNAVAILABLE]") {
			t.Fatalf("login from a blocked address: %q", got)
		}
	}
	// The refusal is the limiter's: a server on the same store without it
	// lets alice in.
	c := a.peer(func(o *Options) { o.LoginLimiter = nil })
	c.raw().login()
}

func TestClusterConnectionsPerUser(t *testing.T) {
	ca, cb := clustertest.Two(t, "imap")
	ctrA, ctrB := ca.Connections(time.Minute), cb.Connections(time.Minute)
	a := newTestEnv(t, func(o *Options) { o.Conns = ctrA; o.MaxConnectionsPerUser = 2 })
	b := a.peer(func(o *Options) { o.Conns = ctrB; o.MaxConnectionsPerUser = 2 })

	a.raw().login()
	rb := b.raw()
	rb.login()
	for _, env := range []*testEnv{a, b} {
		out := env.raw().cmd(fmt.Sprintf("L3 LOGIN alice %q", testPassword))
		if last := out[len(out)-1]; !strings.HasPrefix(last, "L3 NO [LIMIT]") {
			t.Fatalf("third session across instances: %q", out)
		}
	}
	if n, err := ctrA.Count(context.Background(), a.alice.ID); err != nil || n != 2 {
		t.Fatalf("shared count = %d, %v; want 2", n, err)
	}
	rb.expectOK("L9 LOGOUT")
	// The session releases its count as it ends: wait for that condition.
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := ctrA.Count(context.Background(), a.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count still %d after LOGOUT", n)
		}
		<-tick.C // polling the condition, not a guessed delay
	}
	a.raw().login() // a slot is free again, taken through the other instance
}
