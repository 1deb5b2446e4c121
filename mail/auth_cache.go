package mail

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultAuthCacheMax bounds an AuthCache made with max <= 0.
const DefaultAuthCacheMax = 10000

// AuthCache remembers recent successful password checks so that a client
// that logs in again and again (IMAP clients open several connections, and
// reconnect often) does not pay argon2id's cost (RFC 9106) every time.
//
// Invariants:
//   - Only successes are stored (Put is called after password.Verify
//     succeeded); a failed attempt is never cached, so a wrong password is
//     always checked against the stored hash.
//   - The password itself is never kept: an entry is keyed by the user ID and
//     HMAC-SHA256 of the password under a random key made when the cache is
//     created, so a memory dump reveals no password and the MACs cannot be
//     compared across processes.
//   - An entry records the exact password hash string it was checked
//     against; Hit answers true only if the user's current hash string is the
//     same, so a password change refuses the old password at once, on every
//     instance (each reads the hash from the shared store).
//   - Entries expire TTL after they were stored; at most Max entries are
//     kept (expired ones are dropped first, then arbitrary ones).
//
// Disabled users are checked by the caller after every hit (the user record
// is always read from the store); Forget drops a user's entries eagerly.
// An AuthCache is safe for concurrent use. A nil *AuthCache caches nothing.
type AuthCache struct {
	ttl time.Duration
	max int
	key [32]byte
	now func() time.Time

	mu      sync.Mutex
	entries map[authKey]authEntry
}

type authKey struct {
	userID string
	mac    [sha256.Size]byte
}

type authEntry struct {
	hash    string // the PasswordHash the password was verified against
	expires time.Time
}

// NewAuthCache returns a cache whose entries live ttl and that holds at
// most max entries (DefaultAuthCacheMax if max <= 0). A ttl <= 0 returns
// nil: no caching.
func NewAuthCache(ttl time.Duration, max int) *AuthCache {
	return NewAuthCacheClock(ttl, max, time.Now)
}

// NewAuthCacheClock is NewAuthCache with the clock that dates entries
// (tests use a fake one to pass the TTL without waiting).
func NewAuthCacheClock(ttl time.Duration, max int, now func() time.Time) *AuthCache {
	if ttl <= 0 {
		return nil
	}
	if max <= 0 {
		max = DefaultAuthCacheMax
	}
	c := &AuthCache{ttl: ttl, max: max, now: now, entries: make(map[authKey]authEntry)}
	// crypto/rand.Read never fails (Go >= 1.24: it panics instead).
	rand.Read(c.key[:])
	return c
}

func (c *AuthCache) keyOf(userID, pw string) authKey {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(pw))
	k := authKey{userID: userID}
	m.Sum(k.mac[:0])
	return k
}

// Hit reports whether pw was verified for userID against exactly
// passwordHash less than TTL ago. A stale entry (expired, or made against
// another hash) is removed.
func (c *AuthCache) Hit(userID, passwordHash, pw string) bool {
	if c == nil {
		return false
	}
	k := c.keyOf(userID, pw)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return false
	}
	// The key already binds the password (through the MAC); the hash string
	// is compared in constant time for good measure.
	if !c.now().Before(e.expires) || !hmac.Equal([]byte(e.hash), []byte(passwordHash)) {
		delete(c.entries, k)
		return false
	}
	return true
}

// Put records that pw was verified for userID against passwordHash.
func (c *AuthCache) Put(userID, passwordHash, pw string) {
	if c == nil {
		return
	}
	k := c.keyOf(userID, pw)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for ek, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, ek)
			}
		}
		// Still full: drop arbitrary entries (map order) until there is room.
		for ek := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, ek)
		}
	}
	c.entries[k] = authEntry{hash: passwordHash, expires: now.Add(c.ttl)}
}

// Forget drops every entry of userID (password changed, user disabled or
// deleted).
func (c *AuthCache) Forget(userID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.userID == userID {
			delete(c.entries, k)
		}
	}
}

// Len is the number of entries, expired ones included.
func (c *AuthCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
