package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/internal/tcpproxy"

	"github.com/redis/go-redis/v9"
)

// redisAddr is the test Redis (EIDER_TEST_REDIS, default 127.0.0.1:6379).
func redisAddr() string {
	if a := envOr("EIDER_TEST_REDIS", ""); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// testRedis returns a client named uniquely for this test and a channel
// prefix no other test uses.
func testRedis(t *testing.T) (*redis.Client, string, string) {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "eidertest-" + hex.EncodeToString(b[:])
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(), ClientName: name})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", redisAddr(), err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb, name, name + ":beacon:"
}

func recv(t *testing.T, ch <-chan Beacon, what string) Beacon {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-time.After(5 * time.Second):
		t.Fatalf("no beacon (%s) within 5s", what)
	}
	return Beacon{}
}

// Two buses on two connections: a beacon published on one reaches the
// other's subscriber of that user only.
func TestRedisAcrossInstances(t *testing.T) {
	ctx := context.Background()
	r1, _, prefix := testRedis(t)
	r2 := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer r2.Close()
	a := NewRedis(r1, RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	defer a.Close()
	b := NewRedis(r2, RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	defer b.Close()
	alice, cancel, err := b.Subscribe(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	bob, cancelBob, err := b.Subscribe(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelBob()
	// The subscription's catch-up beacons come first.
	if got := recv(t, alice, "catch-up"); got.Seq != 0 || got.UserID != "alice" {
		t.Fatalf("first beacon %+v, want alice's catch-up (Seq 0)", got)
	}
	recv(t, bob, "catch-up")
	if err := a.Publish(ctx, Beacon{UserID: "alice", Seq: 42}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, alice, "published"); got != (Beacon{UserID: "alice", Seq: 42}) {
		t.Fatalf("got %+v, want alice 42", got)
	}
	select {
	case got := <-bob:
		t.Fatalf("bob got %+v", got)
	case <-time.After(100 * time.Millisecond): // a negative check: nothing may arrive
	}
	// After cancel, the channel is unsubscribed: nobody receives.
	cancel()
	cancelBob()
	waitFor(t, "unsubscribed", func() bool {
		n, _ := r2.PubSubNumSub(ctx, prefix+"alice").Result()
		return n[prefix+"alice"] == 0
	})
}

// Killing the pub/sub connection: the bus reconnects and re-subscribes,
// and the listener, reading the "journal" on every beacon, sees every
// change, including the ones published while no one was subscribed.
func TestRedisResubscribesAfterKill(t *testing.T) {
	ctx := context.Background()
	rdb, name, prefix := testRedis(t)
	pub := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer pub.Close()
	b := NewRedis(rdb, RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	defer b.Close()
	ch, cancel, err := b.Subscribe(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	var journal atomic.Int64 // stands for the store's journal
	seen := make(chan int64, 100)
	go func() {
		for range ch { // on every beacon, read the journal, as sessions do
			seen <- journal.Load()
		}
	}()
	change := func() int64 {
		n := journal.Add(1)
		r, err := pub.Publish(ctx, prefix+"u", fmt.Sprint(n)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	change()
	waitSeen(t, seen, 1)

	// Kill the bus's pub/sub connection from outside.
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+name+" ") && strings.Contains(line, "sub=1") {
			var id string
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "id="); ok {
					id = v
				}
			}
			if err := pub.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d pub/sub connections, want 1:\n%s", killed, list)
	}
	// Change until a beacon is certainly lost (no subscriber received it).
	lost := false
	deadline := time.Now().Add(5 * time.Second)
	for !lost && time.Now().Before(deadline) {
		lost = change() == 0
	}
	if !lost {
		t.Fatal("the subscription never went away after CLIENT KILL")
	}
	last := journal.Load()
	waitSeen(t, seen, last)
	// And the bus works again for new changes.
	waitFor(t, "resubscribed", func() bool {
		n, _ := pub.PubSubNumSub(ctx, prefix+"u").Result()
		return n[prefix+"u"] == 1
	})
	change()
	waitSeen(t, seen, last+1)
}

// waitSeen waits until the listener has read the journal at want or beyond.
func waitSeen(t *testing.T, seen <-chan int64, want int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case v := <-seen:
			if v >= want {
				return
			}
		case <-timeout:
			t.Fatalf("listener never read the journal at %d", want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling an external condition, not synchronisation by delay
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Redis goes away and comes back: while it is away Subscribe still
// returns (bounded wait) and changes are published to nobody; when it is
// back the bus re-subscribes and every listener catches up.
//
// Two ways Redis goes away: a forwarder in front of the shared test Redis
// is stopped and started again, and a private redis-server process is
// killed (SIGKILL) and started again on the same port.
func TestRedisRestart(t *testing.T) {
	t.Run("proxy", func(t *testing.T) {
		p := &tcpproxy.Proxy{Target: redisAddr()}
		p.Start(t)
		defer p.Stop()
		testRedisRestart(t, p.Addr, redisAddr(), p.Stop, func() { p.Start(t) })
	})
	t.Run("redis-server", func(t *testing.T) {
		srv := startRedisServer(t, "")
		testRedisRestart(t, srv.addr, srv.addr, srv.kill, func() { srv.restart(t) })
	})
}

// testRedisRestart runs the bus on busAddr while changes are published on
// pubAddr; down and up take Redis away and bring it back.
func testRedisRestart(t *testing.T, busAddr, pubAddr string, down, up func()) {
	ctx := context.Background()
	var b6 [6]byte
	_, _ = rand.Read(b6[:])
	prefix := "eidertest-" + hex.EncodeToString(b6[:]) + ":beacon:"
	rdb := redis.NewClient(&redis.Options{Addr: busAddr, MaxRetries: -1})
	defer rdb.Close()
	pub := redis.NewClient(&redis.Options{Addr: pubAddr, MaxRetries: -1})
	defer pub.Close()
	b := NewRedis(rdb, RedisOptions{Prefix: prefix, Logger: slog.New(slog.DiscardHandler), SubscribeWait: 200 * time.Millisecond})
	defer b.Close()
	ch, cancel, err := b.Subscribe(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	var journal atomic.Int64
	seen := make(chan int64, 100)
	go func() {
		for range ch {
			seen <- journal.Load()
		}
	}()
	away := false
	change := func() {
		// A change is journaled first; its beacon may find no Redis (a
		// real restart) or no subscriber (the forwarder is down).
		n := journal.Add(1)
		if err := pub.Publish(ctx, prefix+"u", fmt.Sprint(n)).Err(); err != nil && !away {
			t.Fatal(err)
		}
	}
	change()
	waitSeen(t, seen, 1)

	away = true
	down() // Redis goes away
	waitFor(t, "subscription gone", func() bool {
		n, _ := pub.PubSubNumSub(ctx, prefix+"u").Result()
		return n[prefix+"u"] == 0
	})
	for i := 0; i < 3; i++ {
		change() // nobody receives these
	}
	start := time.Now()
	vch, vcancel, err := b.Subscribe(ctx, "v")
	if err != nil {
		t.Fatalf("Subscribe while Redis is away: %v", err)
	}
	defer vcancel()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Subscribe while Redis is away took %v", d)
	}
	if err := b.Publish(ctx, Beacon{UserID: "u", Seq: 99}); err == nil {
		t.Fatal("Publish while Redis is away reported success")
	}

	up() // Redis is back on the same address
	away = false
	waitSeen(t, seen, journal.Load())
	if got := recv(t, vch, "catch-up for a subscription made while Redis was away"); got.UserID != "v" {
		t.Fatalf("got %+v", got)
	}
	change()
	waitSeen(t, seen, journal.Load())
}

// redisServer is a private redis-server process on a loopback port, so a
// test can kill and restart a real Redis without touching the shared one.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
}

// startRedisServer starts redis-server on addr (a free port when empty)
// and waits until it answers PING.
func startRedisServer(t *testing.T, addr string) *redisServer {
	t.Helper()
	if addr == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server (Debian package redis-server) is needed: %v", err)
	}
	srv := &redisServer{addr: addr, cmd: cmd}
	t.Cleanup(srv.kill)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	waitFor(t, "redis-server answers", func() bool { return c.Ping(context.Background()).Err() == nil })
	return srv
}

// kill ends the process with SIGKILL (no shutdown, like a crash).
func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// restart starts a new redis-server on the same address.
func (r *redisServer) restart(t *testing.T) {
	r.cmd = startRedisServer(t, r.addr).cmd
}
