package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/internal/cputime"
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
		if out, err = legacyAppendPacked(out, packed.String, cache); err != nil {
			return nil, err
		}
		if n < refsChunk {
			break
		}
		after = last.Int64
	}
	return out, nil
}

// concatListRefs is the first listing as it was before the per-column
// packing (packedCols): one "uid modseq id flags" line per row, from the
// covering index in UID chunks. Kept to measure the two side by side.
func concatListRefs(ctx context.Context, s *Store, userID, mailboxID string) ([]store.MessageRef, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var mbx, uidNext int64
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT m.mbx, m.uid_next, m.total FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE m.id = ? AND u.id = ?`, mailboxID, userID).Scan(&mbx, &uidNext, &total); err != nil {
		return nil, err
	}
	out := make([]store.MessageRef, 0, total)
	cache := map[string][]string{}
	width := max(refsChunk, uidNext*refsChunk/int64(max(total, 1)))
	for lo := int64(0); lo < uidNext; lo += width {
		var packed sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT group_concat(uid || ' ' || modseq || ' ' || id || ' ' || flags, char(10))
			FROM messages INDEXED BY messages_refs WHERE mbx = ? AND uid > ? AND uid <= ?`, mbx, lo, lo+width).Scan(&packed); err != nil {
			return nil, err
		}
		if !packed.Valid {
			continue
		}
		if out, err = legacyAppendPacked(out, packed.String, cache); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reportCPU reports the process CPU time per operation since start: on a
// shared, loaded machine it varies far less than the wall time.
func reportCPU(b *testing.B, start time.Duration, n int) {
	b.ReportMetric(float64(cputime.Process()-start)/float64(n), "cpu-ns/op")
}

// legacyAppendPacked and legacyParseRef parse the "uid modseq id flags"
// lines of legacyListRefs.
func legacyAppendPacked(out []store.MessageRef, packed string, cache map[string][]string) ([]store.MessageRef, error) {
	first := len(out)
	for line := range strings.SplitSeq(packed, "\n") {
		r, err := legacyParseRef(line, cache)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if chunk := out[first:]; !slices.IsSortedFunc(chunk, cmpRefUID) {
		slices.SortFunc(chunk, cmpRefUID)
	}
	return out, nil
}

func legacyParseRef(line string, cache map[string][]string) (store.MessageRef, error) {
	var r store.MessageRef
	f0, rest, ok1 := strings.Cut(line, " ")
	f1, rest, ok2 := strings.Cut(rest, " ")
	id, flags, _ := strings.Cut(rest, " ")
	if !ok1 || !ok2 || id == "" {
		return r, fmt.Errorf("bad ref line %q", line)
	}
	uid, err1 := strconv.ParseUint(f0, 10, 32)
	ms, err2 := strconv.ParseUint(f1, 10, 64)
	if err1 != nil || err2 != nil {
		return r, fmt.Errorf("bad ref line %q", line)
	}
	r.UID, r.ModSeq, r.ID = uint32(uid), ms, id
	fl, ok := cache[flags]
	if !ok {
		fl = splitFlags(flags)
		if len(cache) < 1024 {
			cache[flags] = fl
		}
	}
	r.Flags = fl
	return r, nil
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
		start, n := cputime.Process(), 0
		for b.Loop() {
			refs, err := legacyListRefs(ctx, f.s, f.userID, f.mbID)
			check(b, refs, err)
			n++
		}
		reportCPU(b, start, n)
	})
	b.Run("cold-concat", func(b *testing.B) {
		start, n := cputime.Process(), 0
		for b.Loop() {
			refs, err := concatListRefs(ctx, f.s, f.userID, f.mbID)
			check(b, refs, err)
			n++
		}
		reportCPU(b, start, n)
	})
	// cold: nothing in memory, no persisted listing: the full read, plus
	// writing the persisted listing (refs_snapshot.go).
	b.Run("cold", func(b *testing.B) {
		var cpu time.Duration
		n := 0
		for b.Loop() {
			b.StopTimer()
			f.s.refs.reset()
			if _, err := f.s.w.Exec(`DELETE FROM refs_snapshot`); err != nil {
				b.Fatal(err)
			}
			start := cputime.Process()
			b.StartTimer()
			refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
			check(b, refs, err)
			cpu += cputime.Process() - start
			n++
		}
		b.ReportMetric(float64(cpu)/float64(n), "cpu-ns/op")
	})
	// persisted: nothing in memory (a first listing after a start), the
	// persisted listing of the previous run current.
	b.Run("persisted", func(b *testing.B) {
		if _, err := f.s.ListRefs(ctx, f.userID, f.mbID); err != nil {
			b.Fatal(err)
		}
		before := f.s.refs.snaps.Load()
		start, n := cputime.Process(), 0
		for b.Loop() {
			f.s.refs.reset()
			refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
			check(b, refs, err)
			n++
		}
		reportCPU(b, start, n)
		if got := f.s.refs.snaps.Load() - before; got != int64(n) {
			b.Fatalf("%d of %d listings from the persisted one", got, n)
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

// BenchmarkFetchFlags1000 reads the flags of 1,000 consecutive messages of
// the 100k mailbox: Fetch without Meta (whole message rows) against
// FetchRefs (the covering index, packed).
func BenchmarkFetchFlags1000(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	set := store.UIDSet{{Start: 50001, Stop: 51000}}
	b.Run("fetch", func(b *testing.B) {
		start, n := cputime.Process(), 0
		for b.Loop() {
			ms, err := f.s.Fetch(ctx, f.userID, f.mbID, set, false)
			if err != nil || len(ms) != 1000 {
				b.Fatalf("%d messages, %v", len(ms), err)
			}
			n++
		}
		reportCPU(b, start, n)
	})
	b.Run("refs", func(b *testing.B) {
		start, n := cputime.Process(), 0
		for b.Loop() {
			refs, err := f.s.FetchRefs(ctx, f.userID, f.mbID, set)
			if err != nil || len(refs) != 1000 {
				b.Fatalf("%d refs, %v", len(refs), err)
			}
			n++
		}
		reportCPU(b, start, n)
	})
}
