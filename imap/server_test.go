package imap

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail"
)

// Shutdown says BYE to a session waiting for a command and to one in IDLE,
// then returns once both have ended.
func TestShutdownEndsIdleSessions(t *testing.T) {
	e := newTestEnv(t, nil)
	r1 := e.raw()
	r1.login()
	r2 := e.raw()
	r2.login()
	r2.expectOK("s SELECT INBOX")
	r2.send("i IDLE")
	if l := r2.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for i, r := range []*rawClient{r1, r2} {
		if l := r.line(); !strings.HasPrefix(l, "* BYE") {
			t.Errorf("session %d: %q", i+1, l)
		}
	}
	// New connections are refused (the listener is closed).
	if c, err := net.DialTimeout("tcp", e.addr, 2*time.Second); err == nil {
		c.Close()
		t.Error("listener still accepting after Shutdown")
	}
}

// A panic in a handler ends only its session, with BYE; the server goes
// on. A core without a store makes LOGIN panic (nil interface).
func TestPanicEndsOnlyTheSession(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Service = &mail.Service{} })
	r := e.raw()
	r.send("p LOGIN alice x")
	if l := r.line(); !strings.HasPrefix(l, "* BYE [SERVERBUG]") {
		t.Errorf("after panic: %q", l)
	}
	e.waitLog("imap session panic")
	r2 := e.raw()
	r2.expectOK("c CAPABILITY")
}
