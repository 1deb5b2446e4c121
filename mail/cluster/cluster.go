// Package cluster holds the state that Eider instances share through Redis
// in the distributed mode: locks (the POP3 per-maildrop lock of RFC 1939
// §8; Lock also satisfies the MongoDB store's Locker, though eider serve
// uses the store's own database lock, mongo.DBLocker, so that writes do
// not depend on Redis), failed-login counts for rate limiting, per-user
// connection counts, and single-use nonces (update-stream tickets).
//
// Every key carries an expiry, so an instance that dies leaves nothing
// stuck for longer than the TTL; a live holder renews its leases while it
// holds them. Keys are named Prefix + kind + ":" + key.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eidermail/eider/mail/throttle"
	"github.com/eidermail/eider/pop3"
	"github.com/redis/go-redis/v9"
)

// ErrLocked is returned by TryLock when another holder has the lock.
var ErrLocked = errors.New("cluster: locked")

// ErrTooMany is returned (wrapped) by Connections.Acquire when the user is
// at its limit; it is throttle.ErrTooMany, which the front-ends test for.
var ErrTooMany = throttle.ErrTooMany

// The Redis implementations of the front-ends' shared limits.
var (
	_ throttle.LoginLimiter = (*LoginLimiter)(nil)
	_ throttle.ConnCounter  = (*Connections)(nil)
)

// Options configure a Cluster.
type Options struct {
	// Prefix of every key (default "eider:").
	Prefix string
	// LockTTL is the lease of a lock; holders renew it every TTL/3
	// (default 15s). A crashed holder's lock frees itself after it.
	LockTTL time.Duration
	// RetryMin and RetryMax bound the wait between attempts of a blocking
	// Lock (defaults 2ms and 100ms, doubling).
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
}

// Cluster is the Redis-backed shared state.
type Cluster struct {
	rdb *redis.Client
	o   Options
}

// New returns a Cluster on rdb (which stays the caller's to close).
func New(rdb *redis.Client, o Options) *Cluster {
	if o.Prefix == "" {
		o.Prefix = "eider:"
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 15 * time.Second
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 2 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(100*time.Millisecond, o.RetryMin)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Cluster{rdb: rdb, o: o}
}

func token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// unlockScript deletes the lock only if it still holds our token.
var unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// renewScript extends the lease only if it still holds our token.
var renewScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)

// tryLock makes one attempt: SET key token NX PX ttl.
func (c *Cluster) tryLock(ctx context.Context, key string) (func(), error) {
	k := c.o.Prefix + "lock:" + key
	tok := token()
	ok, err := c.rdb.SetNX(ctx, k, tok, c.o.LockTTL).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: lock %s: %w", key, err)
	}
	if !ok {
		return nil, ErrLocked
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // renew the lease while held
		defer wg.Done()
		t := time.NewTicker(c.o.LockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				n, err := renewScript.Run(context.Background(), c.rdb, []string{k}, tok, c.o.LockTTL.Milliseconds()).Int()
				if err != nil {
					c.o.Logger.Warn("cluster: renewing lock", "key", key, "err", err)
				} else if n == 0 {
					c.o.Logger.Error("cluster: lock lost (expired while held)", "key", key)
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := unlockScript.Run(ctx, c.rdb, []string{k}, tok).Err(); err != nil {
				c.o.Logger.Warn("cluster: unlock (the lease expires by itself)", "key", key, "err", err)
			}
		})
	}, nil
}

// TryLock takes the lock on key or fails at once with ErrLocked.
func (c *Cluster) TryLock(ctx context.Context, key string) (func(), error) {
	return c.tryLock(ctx, key)
}

// Lock waits until it holds the lock on key or ctx ends. It implements the
// MongoDB store's Locker (mail/mongo).
func (c *Cluster) Lock(ctx context.Context, key string) (func(), error) {
	wait := c.o.RetryMin
	for {
		unlock, err := c.tryLock(ctx, key)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("cluster: lock %s: %w", key, ctx.Err())
		}
		wait = min(wait*2, c.o.RetryMax)
	}
}

// POP3Locker returns the POP3 maildrop lock (RFC 1939 §8: one session per
// maildrop) shared by all instances.
//
// While Redis cannot be reached, POP3 keeps serving from the store (issue
// 7): the lock is then held in this instance only, which is logged. The
// in-process lock is always taken as well, so two sessions of one instance
// never share a maildrop, Redis or not; across instances, exclusion holds
// whenever Redis answers.
func (c *Cluster) POP3Locker() pop3.Locker {
	return &pop3Locker{c: c, local: pop3.NewLocalLocker()}
}

type pop3Locker struct {
	c     *Cluster
	local *pop3.LocalLocker
}

func (p *pop3Locker) Lock(ctx context.Context, key string) (func(), error) {
	unlockLocal, err := p.local.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	unlock, err := p.c.tryLock(ctx, key) // the POP3 server's keys start with "pop3:"
	switch {
	case err == nil:
		return func() { unlock(); unlockLocal() }, nil
	case errors.Is(err, ErrLocked):
		unlockLocal()
		return nil, pop3.ErrLocked
	case ctx.Err() != nil:
		unlockLocal()
		return nil, err
	}
	p.c.o.Logger.Warn("cluster: Redis unreachable: POP3 maildrop lock held in this instance only", "key", key, "err", err)
	return unlockLocal, nil
}

// --- failed logins ---

// failScript counts one failure in a fixed window: INCR, and PEXPIRE when
// the key is new.
var failScript = redis.NewScript(`local n = redis.call("INCR", KEYS[1]) if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end return n`)

// LoginLimiter counts failed logins per key (a client address, a username)
// in a fixed window shared by all instances: after Max failures the key is
// blocked until the window ends.
type LoginLimiter struct {
	c      *Cluster
	Max    int
	Window time.Duration
}

// LoginLimiter returns a limiter allowing max failures per window.
func (c *Cluster) LoginLimiter(max int, window time.Duration) *LoginLimiter {
	return &LoginLimiter{c: c, Max: max, Window: window}
}

func (l *LoginLimiter) key(k string) string { return l.c.o.Prefix + "loginfail:" + k }

// Blocked reports whether key is blocked and for how long.
func (l *LoginLimiter) Blocked(ctx context.Context, key string) (time.Duration, bool, error) {
	k := l.key(key)
	n, err := l.c.rdb.Get(ctx, k).Int()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("cluster: login limiter: %w", err)
	}
	if n < l.Max {
		return 0, false, nil
	}
	ttl, err := l.c.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return 0, false, fmt.Errorf("cluster: login limiter: %w", err)
	}
	return max(ttl, 0), true, nil
}

// Fail records a failed login for key and returns the failures in the window.
func (l *LoginLimiter) Fail(ctx context.Context, key string) (int, error) {
	n, err := failScript.Run(ctx, l.c.rdb, []string{l.key(key)}, l.Window.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("cluster: login limiter: %w", err)
	}
	return n, nil
}

// Succeed forgets key's failures.
func (l *LoginLimiter) Succeed(ctx context.Context, key string) error {
	if err := l.c.rdb.Del(ctx, l.key(key)).Err(); err != nil {
		return fmt.Errorf("cluster: login limiter: %w", err)
	}
	return nil
}

// --- connection counts ---

// acquireScript: drop expired members, refuse at the limit, else add ours.
// KEYS[1] zset; ARGV: now ms, expiry ms, limit, member, key ttl ms.
var acquireScript = redis.NewScript(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])
if tonumber(ARGV[3]) > 0 and redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[4])
redis.call("PEXPIRE", KEYS[1], ARGV[5])
return redis.call("ZCARD", KEYS[1])`)

// Connections counts the open connections of each user across instances.
// Each connection is a member of a sorted set scored by its lease expiry,
// renewed while it is open, so connections of a crashed instance stop
// counting after TTL.
type Connections struct {
	c   *Cluster
	TTL time.Duration
}

// Connections returns the per-user connection counter (ttl 0: 60s).
func (c *Cluster) Connections(ttl time.Duration) *Connections {
	if ttl <= 0 {
		ttl = time.Minute
	}
	return &Connections{c: c, TTL: ttl}
}

func (cs *Connections) key(user string) string { return cs.c.o.Prefix + "conns:" + user }

// Acquire counts one connection of user, refusing with ErrTooMany when the
// user already has limit (limit <= 0: no limit). release must be called
// when the connection ends.
func (cs *Connections) Acquire(ctx context.Context, user string, limit int) (release func(), err error) {
	k, member := cs.key(user), token()
	now := time.Now()
	n, err := acquireScript.Run(ctx, cs.c.rdb, []string{k}, now.UnixMilli(), now.Add(cs.TTL).UnixMilli(), limit, member,
		(2 * cs.TTL).Milliseconds()).Int()
	if err != nil {
		return nil, fmt.Errorf("cluster: connections: %w", err)
	}
	if n < 0 {
		return nil, fmt.Errorf("user %s: %d connections: %w", user, limit, ErrTooMany)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cs.TTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				exp := time.Now().Add(cs.TTL).UnixMilli()
				if err := cs.c.rdb.ZAddXX(context.Background(), k, redis.Z{Score: float64(exp), Member: member}).Err(); err != nil {
					cs.c.o.Logger.Warn("cluster: renewing connection lease", "user", user, "err", err)
				}
				cs.c.rdb.PExpire(context.Background(), k, 2*cs.TTL)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := cs.c.rdb.ZRem(ctx, k, member).Err(); err != nil {
				cs.c.o.Logger.Warn("cluster: releasing connection (the lease expires by itself)", "user", user, "err", err)
			}
		})
	}, nil
}

// Count returns the user's live connections.
func (cs *Connections) Count(ctx context.Context, user string) (int64, error) {
	n, err := cs.c.rdb.ZCount(ctx, cs.key(user), fmt.Sprint(time.Now().UnixMilli()), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("cluster: connections: %w", err)
	}
	return n, nil
}

// --- single-use nonces ---

// Nonces remembers used nonces (the update-stream tickets' nonces) across
// instances until they expire: SET key 1 NX PX ttl, so exactly one
// redemption of a nonce succeeds on any instance.
type Nonces struct{ c *Cluster }

// Nonces returns the shared single-use nonce set.
func (c *Cluster) Nonces() *Nonces { return &Nonces{c} }

// Redeem marks nonce used for ttl; false if it was used before.
func (n *Nonces) Redeem(ctx context.Context, nonce string, ttl time.Duration) (bool, error) {
	ok, err := n.c.rdb.SetNX(ctx, n.c.o.Prefix+"nonce:"+nonce, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("cluster: nonce: %w", err)
	}
	return ok, nil
}
