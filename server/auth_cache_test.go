package server

import (
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

// TestTokenVerifyCache: a token verified once is answered from the cache,
// but still expires on time, and a token differing in one byte (forged
// signature or payload) is checked afresh and refused.
func TestTokenVerifyCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tk := &tokens{secret: []byte("0123456789abcdef0123"), ttl: time.Hour, now: func() time.Time { return now }}
	tok, _ := tk.issue(&store.User{ID: "u1", PasswordHash: "h"})
	for i := 0; i < 2; i++ {
		p, err := tk.verify(tok)
		if err != nil || p.User != "u1" {
			t.Fatalf("verify #%d = %+v, %v", i+1, p, err)
		}
		p.User = "changed by the caller"
	}
	if len(tk.seen) != 1 {
		t.Fatalf("cache holds %d tokens, want 1", len(tk.seen))
	}
	i := strings.LastIndexByte(tok, '.')
	forged := tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
	if _, err := tk.verify(forged); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("forged signature: %v", err)
	}
	if _, err := tk.verify(tok[:4] + "x" + tok[5:]); err == nil {
		t.Fatal("altered payload verified")
	}
	now = now.Add(2 * time.Hour)
	if _, err := tk.verify(tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token from the cache: %v", err)
	}
	for n := 0; n < maxSeenTokens+10; n++ {
		tk.seen[strings.Repeat("x", n)] = &tokenPayload{}
	}
	tok2, _ := tk.issue(&store.User{ID: "u2"})
	if _, err := tk.verify(tok2); err != nil || len(tk.seen) != 1 {
		t.Fatalf("after filling the cache: %v, %d entries (want emptied to 1)", err, len(tk.seen))
	}
}
