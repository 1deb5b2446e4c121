package pop3_test

// Two POP3 servers on one store sharing, through a real Redis, the
// failed-login counts and the maildrop lock (two instances in the
// distributed mode).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/cluster"
	"github.com/eidermail/eider/pop3"
	"github.com/redis/go-redis/v9"
)

// twoClusters returns two cluster.Clusters on separate Redis connections,
// with a key prefix of this test's own (deleted at the end).
func twoClusters(t *testing.T) (*cluster.Cluster, *cluster.Cluster) {
	t.Helper()
	addr := os.Getenv("EIDER_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "eidertest-pop3-" + hex.EncodeToString(b[:]) + ":"
	r1 := redis.NewClient(&redis.Options{Addr: addr})
	r2 := redis.NewClient(&redis.Options{Addr: addr})
	if err := r1.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", addr, err)
	}
	t.Cleanup(func() {
		keys, _ := r1.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			r1.Del(context.Background(), keys...)
		}
		r1.Close()
		r2.Close()
	})
	o := cluster.Options{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)}
	return cluster.New(r1, o), cluster.New(r2, o)
}

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
	ca, cb := twoClusters(t)
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
