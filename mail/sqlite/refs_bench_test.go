package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// legacyListRefs is ListRefs as it was before refs.go (packed rows from an
// ordered subquery in chunks of refsChunk, no cache), kept to measure the
// new listing against it in one run.
func legacyListRefs(ctx context.Context, s *Store, userID, mailboxID string) ([]store.MessageRef, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, err
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out []store.MessageRef
	cache := map[string][]string{}
	var after int64
	for {
		var packed sql.NullString
		var n int
		var last sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT group_concat(uid || ' ' || modseq || ' ' || id || ' ' || flags, char(10)),
			COUNT(*), MAX(uid) FROM (SELECT uid, modseq, id, flags FROM messages
			WHERE mbx = ? AND uid > ? AND modseq > ? ORDER BY uid LIMIT ?)`,
			mbx, after, 0, refsChunk).Scan(&packed, &n, &last)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		if out == nil {
			var total int
			if err := tx.QueryRowContext(ctx, `SELECT total FROM mailboxes WHERE mbx = ?`, mbx).Scan(&total); err != nil {
				return nil, err
			}
			out = make([]store.MessageRef, 0, max(n, min(total, 1<<22)))
		}
		if out, err = appendPacked(out, packed.String, cache); err != nil {
			return nil, err
		}
		if n < refsChunk {
			break
		}
		after = last.Int64
	}
	return out, nil
}

func (c *refsCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries, c.held = map[int64]*refsEntry{}, 0
}

// BenchmarkListRefsPaths lists the 100k-message mailbox: the pre-cache
// query (legacy), a first listing (cold: cache emptied each time), a
// repeated one (warm), and one after a flag change (delta: one STORE
// between listings, not timed).
func BenchmarkListRefsPaths(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	check := func(b *testing.B, refs []store.MessageRef, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if len(refs) < fixtureN {
			b.Fatalf("%d refs", len(refs))
		}
	}
	b.Run("legacy", func(b *testing.B) {
		for b.Loop() {
			refs, err := legacyListRefs(ctx, f.s, f.userID, f.mbID)
			check(b, refs, err)
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			f.s.refs.reset()
			refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
			check(b, refs, err)
		}
	})
	b.Run("warm", func(b *testing.B) {
		if _, err := f.s.ListRefs(ctx, f.userID, f.mbID); err != nil {
			b.Fatal(err)
		}
		before := f.s.refs.hits.Load()
		n := 0
		for b.Loop() {
			refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
			check(b, refs, err)
			n++
		}
		if got := f.s.refs.hits.Load() - before; got != int64(n) {
			b.Fatalf("%d cache hits in %d listings", got, n)
		}
	})
	b.Run("delta", func(b *testing.B) {
		if _, err := f.s.ListRefs(ctx, f.userID, f.mbID); err != nil {
			b.Fatal(err)
		}
		before := f.s.refs.merges.Load()
		n := 0
		for b.Loop() {
			b.StopTimer()
			mode := store.FlagsAdd
			if n%2 == 1 {
				mode = store.FlagsRemove
			}
			if _, err := f.s.StoreFlags(ctx, f.userID, f.mbID, store.UIDSet{{Start: 1, Stop: 1}},
				store.FlagUpdate{Mode: mode, Flags: []string{store.FlagFlagged}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
			check(b, refs, err)
			if got := strings.Contains(strings.Join(refs[0].Flags, " "), store.FlagFlagged); got != (n%2 == 0) {
				b.Fatalf("listing %d: uid 1 flags %v", n, refs[0].Flags)
			}
			n++
		}
		if got := f.s.refs.merges.Load() - before; got != int64(n) {
			b.Fatalf("%d merges in %d listings", got, n)
		}
	})
}
