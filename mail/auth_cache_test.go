package mail_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/store"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func cachedService(t *testing.T, clock *fakeClock) (*mail.Service, *store.User) {
	t.Helper()
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	svc.AuthCache = mail.NewAuthCacheClock(time.Minute, 0, clock.now)
	u, err := svc.CreateUser(context.Background(), "carol", "old-secret", "carol@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	return svc, u
}

// A wrong password is refused every time, before and after the right one
// was cached, and failures are never stored.
func TestAuthCacheNeverAcceptsWrongPassword(t *testing.T) {
	ctx := context.Background()
	svc, _ := cachedService(t, &fakeClock{t: time.Unix(1e9, 0)})
	for _, pw := range []string{"wrong", "old-secre", "old-secret ", ""} {
		if _, err := svc.Authenticate(ctx, "carol", pw); !errors.Is(err, store.ErrAuthFailed) {
			t.Fatalf("before caching, %q: err = %v, want ErrAuthFailed", pw, err)
		}
	}
	if n := svc.AuthCache.Len(); n != 0 {
		t.Fatalf("failed attempts cached: %d entries", n)
	}
	for range 3 {
		if _, err := svc.Authenticate(ctx, "carol@example.com", "old-secret"); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	if n := svc.AuthCache.Len(); n != 1 {
		t.Fatalf("cache holds %d entries after 3 successes, want 1", n)
	}
	for _, pw := range []string{"wrong", "old-secre", "OLD-SECRET"} {
		if _, err := svc.Authenticate(ctx, "carol", pw); !errors.Is(err, store.ErrAuthFailed) {
			t.Fatalf("after caching, %q: err = %v, want ErrAuthFailed", pw, err)
		}
	}
	if n := svc.AuthCache.Len(); n != 1 {
		t.Fatalf("cache holds %d entries after failures, want 1", n)
	}
}

// A password change refuses the old password at once, although its success
// is cached and has not expired; the new one is accepted.
func TestAuthCachePasswordChangeRefusesOldAtOnce(t *testing.T) {
	ctx := context.Background()
	svc, u := cachedService(t, &fakeClock{t: time.Unix(1e9, 0)})
	if _, err := svc.Authenticate(ctx, "carol", "old-secret"); err != nil {
		t.Fatal(err)
	}
	h, err := password.Hash("new-secret", password.Fast)
	if err != nil {
		t.Fatal(err)
	}
	// Straight through the store, as another instance or the API would.
	if _, err := svc.Store.UpdateUser(ctx, u.ID, store.UserUpdate{PasswordHash: &h}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "carol", "old-secret"); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("old password after change: err = %v, want ErrAuthFailed", err)
	}
	if _, err := svc.Authenticate(ctx, "carol", "new-secret"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// Changing back to a new hash of the old password: the entry made
	// against the first hash must not count either (it was removed).
	h2, _ := password.Hash("old-secret", password.Fast)
	if _, err := svc.Store.UpdateUser(ctx, u.ID, store.UserUpdate{PasswordHash: &h2}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "carol", "new-secret"); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("second password after change back: err = %v", err)
	}
}

// A disabled user is refused even with a cached success, and stays refused.
func TestAuthCacheDisabledUser(t *testing.T) {
	ctx := context.Background()
	svc, u := cachedService(t, &fakeClock{t: time.Unix(1e9, 0)})
	if _, err := svc.Authenticate(ctx, "carol", "old-secret"); err != nil {
		t.Fatal(err)
	}
	dis := true
	if _, err := svc.Store.UpdateUser(ctx, u.ID, store.UserUpdate{Disabled: &dis}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, "carol", "old-secret"); !errors.Is(err, store.ErrUserDisabled) {
		t.Fatalf("disabled: err = %v, want ErrUserDisabled", err)
	}
	if n := svc.AuthCache.Len(); n != 0 {
		t.Fatalf("disabled user still has %d cache entries", n)
	}
}

// Entries expire after the TTL: a hit before, a miss after.
func TestAuthCacheTTL(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := mail.NewAuthCacheClock(time.Minute, 0, clock.now)
	c.Put("u1", "$hash", "pw")
	if !c.Hit("u1", "$hash", "pw") {
		t.Fatal("fresh entry missed")
	}
	if c.Hit("u2", "$hash", "pw") || c.Hit("u1", "$hash", "pw2") {
		t.Fatal("hit for another user or password")
	}
	clock.add(59 * time.Second)
	if !c.Hit("u1", "$hash", "pw") {
		t.Fatal("entry missed before its TTL")
	}
	clock.add(time.Second)
	if c.Hit("u1", "$hash", "pw") {
		t.Fatal("entry hit at its TTL")
	}
	if c.Len() != 0 {
		t.Fatalf("expired entry kept: %d", c.Len())
	}
	// An entry made against another hash is a miss, and is dropped.
	c.Put("u1", "$hash", "pw")
	if c.Hit("u1", "$other", "pw") || c.Hit("u1", "$hash", "pw") {
		t.Fatal("entry survived a hash change")
	}
}

// The cache never holds more than its maximum; a nil cache (TTL 0) caches
// nothing.
func TestAuthCacheBoundsAndDisabled(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	c := mail.NewAuthCacheClock(time.Minute, 5, clock.now)
	for i := range 20 {
		c.Put(fmt.Sprintf("u%d", i), "$h", "pw")
		if c.Len() > 5 {
			t.Fatalf("after %d puts: %d entries, max 5", i+1, c.Len())
		}
	}
	if !c.Hit("u19", "$h", "pw") {
		t.Fatal("latest entry evicted")
	}
	c.Forget("u19")
	if c.Hit("u19", "$h", "pw") {
		t.Fatal("forgotten entry hit")
	}
	off := mail.NewAuthCache(0, 0)
	off.Put("u", "$h", "pw")
	if off != nil || off.Hit("u", "$h", "pw") || off.Len() != 0 {
		t.Fatal("TTL 0 must disable the cache")
	}
}

// Authenticate with the default argon2id cost, with and without the cache.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, ttl := range []time.Duration{0, time.Minute} {
		b.Run(fmt.Sprintf("cache=%v", ttl > 0), func(b *testing.B) {
			svc := mailtest.NewService(b, "", "", mimetree.DefaultLimits())
			svc.Password = password.Default
			svc.AuthCache = mail.NewAuthCache(ttl, 0)
			if _, err := svc.CreateUser(ctx, "dave", "secret", "", 0); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, "dave", "secret"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
