// Package throttle holds the two shared-state limits of the protocol
// front-ends (IMAP, POP3, the HTTP API): the failed-login limiter and the
// per-user connection counter. Each is an interface with an in-process
// implementation here, for the embedded mode (one instance), and a Redis
// implementation in package mail/cluster, through which every instance
// sees the same counts.
package throttle

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrTooMany is returned by ConnCounter.Acquire when the key is at its
// limit.
var ErrTooMany = errors.New("throttle: too many connections")

// LoginLimiter counts failed logins per key (a client address) in a fixed
// window: once a key has failed Max times it is blocked until its window
// ends. Front-ends check Blocked before checking a password, call Fail
// after a wrong one and Succeed after a right one.
type LoginLimiter interface {
	// Blocked reports whether key is blocked and for how long.
	Blocked(ctx context.Context, key string) (time.Duration, bool, error)
	// Fail records a failure and returns the failures in the window.
	Fail(ctx context.Context, key string) (int, error)
	// Succeed forgets the key's failures.
	Succeed(ctx context.Context, key string) error
}

// ConnCounter counts open connections per key (a user ID).
type ConnCounter interface {
	// Acquire counts one connection of key, or fails with an error
	// wrapping ErrTooMany when key already has limit (limit <= 0: no
	// limit). release ends the count and is safe to call twice.
	Acquire(ctx context.Context, key string, limit int) (release func(), err error)
}

// maxEntries bounds a LocalLimiter's memory: past it, expired entries are
// dropped on the next failure.
const maxEntries = 100000

// LocalLimiter is an in-process LoginLimiter.
type LocalLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	fails map[string]*failCount
}

type failCount struct {
	n     int
	start time.Time
}

// NewLocalLimiter returns a limiter blocking a key after max failures
// within window; now (nil: time.Now) is the clock.
func NewLocalLimiter(max int, window time.Duration, now func() time.Time) *LocalLimiter {
	if now == nil {
		now = time.Now
	}
	return &LocalLimiter{max: max, window: window, now: now, fails: map[string]*failCount{}}
}

// Blocked implements LoginLimiter.
func (l *LocalLimiter) Blocked(_ context.Context, key string) (time.Duration, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[key]
	if f == nil {
		return 0, false, nil
	}
	left := l.window - l.now().Sub(f.start)
	if left <= 0 {
		delete(l.fails, key)
		return 0, false, nil
	}
	return left, f.n >= l.max, nil
}

// Fail implements LoginLimiter.
func (l *LocalLimiter) Fail(_ context.Context, key string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) > maxEntries {
		for k, f := range l.fails {
			if now.Sub(f.start) >= l.window {
				delete(l.fails, k)
			}
		}
	}
	f := l.fails[key]
	if f == nil || now.Sub(f.start) >= l.window {
		f = &failCount{start: now}
		l.fails[key] = f
	}
	f.n++
	return f.n, nil
}

// Succeed implements LoginLimiter.
func (l *LocalLimiter) Succeed(_ context.Context, key string) error {
	l.mu.Lock()
	delete(l.fails, key)
	l.mu.Unlock()
	return nil
}

// LocalConns is an in-process ConnCounter.
type LocalConns struct {
	mu sync.Mutex
	n  map[string]int
}

// NewLocalConns returns an empty LocalConns.
func NewLocalConns() *LocalConns { return &LocalConns{n: map[string]int{}} }

// Acquire implements ConnCounter.
func (c *LocalConns) Acquire(_ context.Context, key string, limit int) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if limit > 0 && c.n[key] >= limit {
		return nil, ErrTooMany
	}
	c.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			if c.n[key]--; c.n[key] <= 0 {
				delete(c.n, key)
			}
			c.mu.Unlock()
		})
	}, nil
}

// Count returns key's open connections.
func (c *LocalConns) Count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

var (
	_ LoginLimiter = (*LocalLimiter)(nil)
	_ ConnCounter  = (*LocalConns)(nil)
)
