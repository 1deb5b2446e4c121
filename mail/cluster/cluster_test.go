package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/internal/tcpproxy"

	"github.com/eidermail/eider/pop3"
	"github.com/redis/go-redis/v9"
)

// two returns two Clusters on separate connections (as two instances) with
// a key prefix of their own.
func two(t *testing.T, o Options) (*Cluster, *Cluster, *redis.Client) {
	t.Helper()
	addr := os.Getenv("EIDER_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	o.Prefix = "eidertest-" + hex.EncodeToString(b[:]) + ":"
	o.Logger = slog.New(slog.DiscardHandler)
	r1 := redis.NewClient(&redis.Options{Addr: addr})
	r2 := redis.NewClient(&redis.Options{Addr: addr})
	if err := r1.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", addr, err)
	}
	t.Cleanup(func() {
		keys, _ := r1.Keys(context.Background(), o.Prefix+"*").Result()
		if len(keys) > 0 {
			r1.Del(context.Background(), keys...)
		}
		r1.Close()
		r2.Close()
	})
	return New(r1, o), New(r2, o), r1
}

// The lock excludes across instances: a read-modify-write of a plain Redis
// key under it loses no update.
func TestLockExcludes(t *testing.T) {
	ctx := context.Background()
	a, b, rdb := two(t, Options{})
	counter := a.o.Prefix + "counter"
	var wg sync.WaitGroup
	const per = 40
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				unlock, err := c.Lock(ctx, "user:x")
				if err != nil {
					errs <- err
					return
				}
				n, _ := rdb.Get(ctx, counter).Int()
				rdb.Set(ctx, counter, n+1, 0)
				unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, _ := rdb.Get(ctx, counter).Int(); n != 4*per {
		t.Fatalf("counter %d, want %d: the lock let two writers in", n, 4*per)
	}
}

// A held lock is renewed past its TTL; a dead holder's lock expires; Lock
// gives up when its context ends.
func TestLockLease(t *testing.T) {
	ctx := context.Background()
	// A 1s lease renewed every 333ms: a loaded machine delays renewal by
	// far less than the 667ms of slack.
	a, b, rdb := two(t, Options{LockTTL: time.Second})
	unlock, err := a.TryLock(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second) // three TTLs
	for time.Now().Before(deadline) {
		if _, err := b.TryLock(ctx, "k"); !errors.Is(err, ErrLocked) {
			t.Fatalf("TryLock on a held, renewed lock: %v, want ErrLocked", err)
		}
		time.Sleep(100 * time.Millisecond) // probing a time-based lease, not synchronizing
	}
	unlock()
	u2, err := b.TryLock(ctx, "k")
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	u2()
	// A crashed holder: the key without anyone renewing it.
	rdb.Set(ctx, a.o.Prefix+"lock:dead", "crashed", 200*time.Millisecond)
	u3, err := b.Lock(ctx, "dead")
	if err != nil {
		t.Fatalf("Lock after the dead holder's lease: %v", err)
	}
	u3()
	hold, _ := a.TryLock(ctx, "busy")
	defer hold()
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(cctx, "busy"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with an ending context: %v", err)
	}
}

func TestPOP3Locker(t *testing.T) {
	ctx := context.Background()
	a, b, _ := two(t, Options{})
	unlock, err := a.POP3Locker().Lock(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.POP3Locker().Lock(ctx, "alice"); !errors.Is(err, pop3.ErrLocked) {
		t.Fatalf("second POP3 lock: %v, want pop3.ErrLocked", err)
	}
	other, err := b.POP3Locker().Lock(ctx, "bob")
	if err != nil {
		t.Fatalf("another maildrop: %v", err)
	}
	other()
	unlock()
	unlock() // twice is safe
	again, err := b.POP3Locker().Lock(ctx, "alice")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}

func TestLoginLimiterShared(t *testing.T) {
	ctx := context.Background()
	a, b, _ := two(t, Options{})
	la, lb := a.LoginLimiter(3, time.Minute), b.LoginLimiter(3, time.Minute)
	for i := 1; i <= 2; i++ {
		if n, err := la.Fail(ctx, "10.0.0.1"); err != nil || n != i {
			t.Fatalf("Fail %d: %d, %v", i, n, err)
		}
	}
	if _, blocked, _ := lb.Blocked(ctx, "10.0.0.1"); blocked {
		t.Fatal("blocked after 2 of 3 failures")
	}
	if n, _ := lb.Fail(ctx, "10.0.0.1"); n != 3 {
		t.Fatalf("third failure on the other instance counted %d", n)
	}
	d, blocked, err := la.Blocked(ctx, "10.0.0.1")
	if err != nil || !blocked || d <= 0 || d > time.Minute {
		t.Fatalf("Blocked = %v %v %v, want blocked for up to a minute", d, blocked, err)
	}
	if _, blocked, _ := la.Blocked(ctx, "10.0.0.2"); blocked {
		t.Fatal("another key blocked")
	}
	if err := lb.Succeed(ctx, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, blocked, _ := la.Blocked(ctx, "10.0.0.1"); blocked {
		t.Fatal("still blocked after Succeed")
	}
}

func TestConnectionsShared(t *testing.T) {
	ctx := context.Background()
	a, b, _ := two(t, Options{})
	ca, cb := a.Connections(time.Minute), b.Connections(time.Minute)
	r1, err := ca.Acquire(ctx, "alice", 2)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := cb.Acquire(ctx, "alice", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Acquire(ctx, "alice", 2); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third connection: %v, want ErrTooMany", err)
	}
	if n, _ := cb.Count(ctx, "alice"); n != 2 {
		t.Fatalf("Count = %d, want 2", n)
	}
	r1()
	r3, err := cb.Acquire(ctx, "alice", 2)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
	if n, _ := ca.Count(ctx, "alice"); n != 0 {
		t.Fatalf("Count after releases = %d", n)
	}
}

// TestNoncesSingleUse: of concurrent redemptions of one nonce through two
// instances, exactly one succeeds; the key expires with its TTL.
func TestNoncesSingleUse(t *testing.T) {
	a, b, rdb := two(t, Options{})
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.Nonces().Redeem(ctx, "n1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d redemptions of one nonce succeeded, want 1", w)
	}
	ttl, err := rdb.PTTL(ctx, a.o.Prefix+"nonce:n1").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("nonce key TTL %v %v, want within 1m", ttl, err)
	}
}

// With Redis away, POP3 logins still get their maildrop lock, held in this
// instance only: a second session of the same instance is still refused.
func TestPOP3LockerRedisAway(t *testing.T) {
	ctx := context.Background()
	addr := os.Getenv("EIDER_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	p := &tcpproxy.Proxy{Target: addr}
	p.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	c := New(rdb, Options{Prefix: "eidertest-away:", Logger: slog.New(slog.DiscardHandler)})
	l := c.POP3Locker()
	p.Stop()
	unlock, err := l.Lock(ctx, "alice")
	if err != nil {
		t.Fatalf("lock with Redis away: %v", err)
	}
	if _, err := l.Lock(ctx, "alice"); !errors.Is(err, pop3.ErrLocked) {
		t.Fatalf("second session of the same instance: %v, want pop3.ErrLocked", err)
	}
	unlock()
	again, err := l.Lock(ctx, "alice")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}
