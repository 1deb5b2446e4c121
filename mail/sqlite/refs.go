package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/eidermail/eider/mail/store"
)

// Listing the refs (UID, MODSEQ, ID, flags) of a whole mailbox is the hot
// path of IMAP SELECT and of "UID FETCH 1:* (FLAGS)". Three things keep it
// fast on large mailboxes:
//
//   - The rows are packed by SQLite into four text values per chunk of
//     UIDs, one per column (group_concat of uid, of modseq, of id, of
//     flags), read from the covering index messages_refs without a
//     subquery: per-row driver overhead dominates otherwise. One aggregate
//     per column, rather than one of "uid modseq id flags" lines, spares
//     SQLite three string concatenations per row (0.85× the CPU time of a
//     full read, BenchmarkListRefsPaths).
//   - refsCache keeps the last listing of large mailboxes. A listing is
//     valid as of a mailbox's highest_modseq; a later listing reads only the
//     messages with a greater MODSEQ (index messages_modseq) and merges them.
//   - A first listing after a start finds the last full read persisted
//     (refs_snapshot.go) and treats it like a cache entry.
//
// The cache rests on invariants the write paths keep (check.go verifies
// them): every change of a mailbox's messages (append, copy or move in,
// flag change, expunge, move out) raises mailboxes.highest_modseq in the
// same transaction, and every added or changed message gets a MODSEQ above
// the previous highest_modseq; UIDs are never reused under one
// UIDVALIDITY; mailboxes.total is the exact message count.
//
// Merge soundness: a message with MODSEQ <= the cached highest_modseq was
// in the mailbox, unchanged, when the cached listing was read, so it is in
// the cached refs; every other message is in the delta. The merge is thus a
// superset of the mailbox, larger exactly by the messages removed since;
// it is the mailbox when its length equals total, and is discarded (full
// read) otherwise.

// DefaultRefsCache is the default of Config.RefsCache: how many refs the
// listing cache holds across mailboxes (about 100 bytes each).
const DefaultRefsCache = 500_000

// refsCacheMin is the smallest mailbox whose refs are cached. A busy IMAP
// session lists its mailbox on every SELECT and FETCH 1:* (FLAGS); even a
// few hundred rows cost more to read than a delta merge.
const refsCacheMin = 64

// refsSnapMin is the smallest listing persisted in refs_snapshot: smaller
// ones are read in well under a millisecond after a restart.
const refsSnapMin = 2048

// refsChunk is about how many refs one packed query returns.
const refsChunk = 16384

// refsDeltaMax is the share of a mailbox (1/refsDeltaMax) beyond which a
// delta is not merged: reading it through messages_modseq costs a table
// lookup per row, more than a full read past that point.
const refsDeltaMax = 8

// refsCache holds recent listings of large mailboxes, least recently used
// evicted first. Entries are immutable once stored; callers get copies.
type refsCache struct {
	mu      sync.Mutex
	limit   int // most refs held in total; 0: disabled
	minLen  int // smallest listing kept (refsCacheMin; tests lower it)
	snapMin int // smallest listing persisted (refs_snapshot.go; refsSnapMin)
	held    int
	tick    uint64
	entries map[int64]*refsEntry // by mailboxes.mbx

	// How listings were answered (tests and benchmarks read them): from
	// the cache, merged with a delta, read in full; snaps counts the
	// answers that started from a persisted listing (hits or merges).
	hits, merges, loads, snaps atomic.Int64
}

// refsEntry is the listing of one mailbox as of highest_modseq modseq.
type refsEntry struct {
	mailboxID   string // mbx numbers may be reused after a delete; IDs are not
	uidValidity int64
	modseq      int64
	refs        []store.MessageRef // ascending UID, read-only
	used        uint64
}

func newRefsCache(limit int) *refsCache {
	return &refsCache{limit: max(limit, 0), minLen: refsCacheMin, snapMin: refsSnapMin, entries: map[int64]*refsEntry{}}
}

// get returns the entry of mbx if it belongs to the same mailbox.
func (c *refsCache) get(mbx int64, mailboxID string, uidValidity int64) *refsEntry {
	if c.limit == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[mbx]
	if e == nil || e.mailboxID != mailboxID || e.uidValidity != uidValidity {
		return nil
	}
	c.tick++
	e.used = c.tick
	return e
}

// put stores a listing (replacing the mailbox's previous one), evicting
// least recently used entries to stay within limit.
func (c *refsCache) put(mbx int64, e *refsEntry) {
	if c.limit == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[mbx]; old != nil {
		if old.modseq > e.modseq && old.mailboxID == e.mailboxID {
			return // a concurrent listing stored a newer one
		}
		c.held -= len(old.refs)
		delete(c.entries, mbx)
	}
	if len(e.refs) < c.minLen || len(e.refs) > c.limit {
		return
	}
	for c.held+len(e.refs) > c.limit {
		var lru int64
		var oldest *refsEntry
		for k, x := range c.entries {
			if oldest == nil || x.used < oldest.used {
				lru, oldest = k, x
			}
		}
		c.held -= len(oldest.refs)
		delete(c.entries, lru)
	}
	c.tick++
	e.used = c.tick
	c.entries[mbx] = e
	c.held += len(e.refs)
}

// ListRefs returns UID, MODSEQ and flags of every message, ascending UID.
// Refs with equal flags may share one Flags slice: callers must not modify
// Flags in place.
func (s *Store) ListRefs(ctx context.Context, userID, mailboxID string) ([]store.MessageRef, error) {
	refs, mbx, full, err := s.listRefs(ctx, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list refs: %w", err)
	}
	if full != nil {
		// After the read transaction: a listing does not fail for its
		// snapshot; without one the next first listing reads in full.
		if err := s.saveRefsSnapshot(ctx, mbx, full); err != nil && ctx.Err() == nil {
			slog.Warn("sqlite: save packed listing", "mailbox", mailboxID, "err", err)
		}
	}
	return refs, nil
}

// listRefs answers ListRefs; full is set (with mbx) when a first listing
// read a large mailbox in full, for the caller to persist.
func (s *Store) listRefs(ctx context.Context, userID, mailboxID string) (refs []store.MessageRef, mbx int64, full *refsEntry, err error) {
	tx, err := s.r.begin(ctx, nil)
	if err != nil {
		return nil, 0, nil, err
	}
	defer tx.Rollback() // read-only; one snapshot for every query below
	var uidValidity, uidNext, hms int64
	var total int
	err = tx.QueryRowContext(ctx, `SELECT m.mbx, m.uid_validity, m.uid_next, m.highest_modseq, m.total
		FROM mailboxes m JOIN users u ON u.uno = m.uno WHERE m.id = ? AND u.id = ?`, mailboxID, userID).
		Scan(&mbx, &uidValidity, &uidNext, &hms, &total)
	if err != nil {
		return nil, 0, nil, notFound(err, "mailbox "+mailboxID)
	}
	if total == 0 {
		return []store.MessageRef{}, mbx, nil, nil
	}
	e := s.refs.get(mbx, mailboxID, uidValidity)
	cold := e == nil // a first listing since the start (or an eviction)
	fromSnap := false
	if cold && total >= s.refs.snapMin {
		if e, err = loadRefsSnapshot(ctx, tx, mbx, mailboxID, uidValidity); err != nil {
			return nil, 0, nil, err
		}
		fromSnap = e != nil
	}
	if e != nil {
		switch {
		case e.modseq == hms && len(e.refs) == total:
			if fromSnap {
				s.refs.snaps.Add(1)
				s.refs.put(mbx, e) // e.refs is a fresh slice: the cache may own it
			}
			s.refs.hits.Add(1)
			return slices.Clone(e.refs), mbx, nil, nil
		case e.modseq < hms:
			delta, ok, err := queryDelta(ctx, tx, mbx, e.modseq, total/refsDeltaMax+1)
			if err != nil {
				return nil, 0, nil, err
			}
			if ok {
				if merged := mergeRefs(e.refs, delta); len(merged) == total {
					if fromSnap {
						s.refs.snaps.Add(1)
					}
					s.refs.merges.Add(1)
					s.refs.put(mbx, &refsEntry{mailboxID: mailboxID, uidValidity: uidValidity, modseq: hms, refs: merged})
					return slices.Clone(merged), mbx, nil, nil
				}
			}
		}
	}
	refs, err = queryAllRefs(ctx, tx, mbx, uidNext, total)
	if err != nil {
		return nil, 0, nil, err
	}
	s.refs.loads.Add(1)
	if len(refs) != total {
		return refs, mbx, nil, nil // counters off (the check command reports it): not kept
	}
	entry := &refsEntry{mailboxID: mailboxID, uidValidity: uidValidity, modseq: hms, refs: refs}
	if cold && len(refs) >= s.refs.snapMin {
		// Persisted only by first listings: while the memory cache holds
		// the mailbox, its full reads (after removals) are not written.
		full = entry
	}
	if len(refs) < s.refs.minLen {
		return refs, mbx, full, nil // small: not cached
	}
	s.refs.put(mbx, entry)
	return slices.Clone(refs), mbx, full, nil
}

// packedCols packs the rows of a query into one text per column plus
// their count. Every aggregate of a query steps over the same rows in the
// same order, so the i-th entries of the four lists belong to one row. IDs
// are hex and flags are atoms (RFC 3501 §9), so neither contains the
// separator of its list.
const packedCols = `group_concat(uid), group_concat(modseq), group_concat(id, ' '), group_concat(flags, char(10)), COUNT(*)`

// packed is the result of packedCols.
type packed struct {
	uids, modseqs, ids, flags sql.NullString
	n                         int
}

func (p *packed) dest() []any { return []any{&p.uids, &p.modseqs, &p.ids, &p.flags, &p.n} }

// queryAllRefs reads every ref of a mailbox in chunks of UIDs, each about
// refsChunk messages wide if UIDs are evenly spread: at most
// total/refsChunk+1 queries, and no chunk larger than the mailbox. Every
// UID is below uidNext.
func queryAllRefs(ctx context.Context, tx *rtx, mbx, uidNext int64, total int) ([]store.MessageRef, error) {
	out := make([]store.MessageRef, 0, min(total, 1<<22))
	cache := map[string][]string{}
	width := max(refsChunk, uidNext*refsChunk/int64(max(total, 1)))
	for lo := int64(0); lo < uidNext; lo += width {
		var p packed
		if err := tx.QueryRowContext(ctx, `SELECT `+packedCols+` FROM messages INDEXED BY messages_refs
			WHERE mbx = ? AND uid > ? AND uid <= ?`, mbx, lo, lo+width).Scan(p.dest()...); err != nil {
			return nil, err
		}
		var err error
		if out, err = appendPacked(out, &p, cache); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// queryDelta reads the refs with MODSEQ > modseq through messages_modseq,
// ascending UID; ok is false when there are limit or more of them.
func queryDelta(ctx context.Context, tx *rtx, mbx, modseq int64, limit int) ([]store.MessageRef, bool, error) {
	var p packed
	if err := tx.QueryRowContext(ctx, `SELECT `+packedCols+` FROM (SELECT uid, modseq, id, flags
		FROM messages INDEXED BY messages_modseq WHERE mbx = ? AND modseq > ? LIMIT ?)`,
		mbx, modseq, limit).Scan(p.dest()...); err != nil {
		return nil, false, err
	}
	if p.n >= limit {
		return nil, false, nil
	}
	if p.n == 0 {
		return nil, true, nil // only removals since modseq
	}
	out, err := appendPacked(nil, &p, map[string][]string{})
	return out, err == nil, err
}

// mergeRefs merges two ascending lists; on equal UIDs the delta wins.
func mergeRefs(base, delta []store.MessageRef) []store.MessageRef {
	out := make([]store.MessageRef, 0, len(base)+len(delta))
	i, j := 0, 0
	for i < len(base) && j < len(delta) {
		switch c := cmp.Compare(base[i].UID, delta[j].UID); {
		case c < 0:
			out = append(out, base[i])
			i++
		case c > 0:
			out = append(out, delta[j])
			j++
		default:
			out = append(out, delta[j])
			i++
			j++
		}
	}
	out = append(out, base[i:]...)
	return append(out, delta[j:]...)
}

// queryRefs lists the refs of a mailbox with MODSEQ > modseq (ChangedSince)
// in chunks of refsChunk, in one read snapshot.
func queryRefs(ctx context.Context, q *readPool, mbx int64, modseq uint64) ([]store.MessageRef, error) {
	tx, err := q.begin(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // one snapshot for all chunks
	var out []store.MessageRef
	cache := map[string][]string{}
	var after int64
	for {
		var p packed
		var last sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT `+packedCols+`, MAX(uid) FROM (SELECT uid, modseq, id, flags
			FROM messages WHERE mbx = ? AND uid > ? AND modseq > ? ORDER BY uid LIMIT ?)`,
			mbx, after, int64(modseq), refsChunk).Scan(append(p.dest(), &last)...)
		if err != nil {
			return nil, err
		}
		if p.n == 0 {
			break
		}
		if out, err = appendPacked(out, &p, cache); err != nil {
			return nil, err
		}
		if p.n < refsChunk {
			break
		}
		after = last.Int64
	}
	return out, nil
}

// appendPacked parses the p.n rows of a packed query and appends them to
// out, keeping out ascending by UID. Flag lists repeat a lot: refs with
// equal flags share one slice through cache.
func appendPacked(out []store.MessageRef, p *packed, cache map[string][]string) ([]store.MessageRef, error) {
	if p.n == 0 {
		return out, nil
	}
	first := len(out)
	uids, modseqs, ids, flags := p.uids.String, p.modseqs.String, p.ids.String, p.flags.String
	for i := 0; i < p.n; i++ {
		// Cut in place: no allocation per row but the flags of a new set.
		var u, ms, id, fl string
		var ok1, ok2, ok3, ok4 bool
		u, uids, ok1 = strings.Cut(uids, ",")
		ms, modseqs, ok2 = strings.Cut(modseqs, ",")
		id, ids, ok3 = strings.Cut(ids, " ")
		fl, flags, ok4 = strings.Cut(flags, "\n")
		if last := i == p.n-1; ok1 == last || ok2 == last || ok3 == last || ok4 == last || id == "" {
			return nil, fmt.Errorf("packed refs: row %d of %d does not line up", i+1, p.n)
		}
		uid, err1 := strconv.ParseUint(u, 10, 32)
		mod, err2 := strconv.ParseUint(ms, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("packed refs: row %d: bad uid %q or modseq %q", i+1, u, ms)
		}
		f, ok := cache[fl]
		if !ok {
			f = splitFlags(fl)
			if len(cache) < 1024 {
				cache[fl] = f
			}
		}
		out = append(out, store.MessageRef{UID: uint32(uid), ModSeq: mod, ID: id, Flags: f})
	}
	// group_concat follows the index order in practice, but SQL does not
	// promise it: make sure.
	if chunk := out[first:]; !slices.IsSortedFunc(chunk, cmpRefUID) {
		slices.SortFunc(chunk, cmpRefUID)
	}
	return out, nil
}

func cmpRefUID(a, b store.MessageRef) int { return cmp.Compare(a.UID, b.UID) }

var _ store.RefFetcher = (*Store)(nil)

// FetchRefs implements store.RefFetcher: the refs of the messages in set,
// packed by SQLite from the covering index messages_refs (no table rows).
func (s *Store) FetchRefs(ctx context.Context, userID, mailboxID string, set store.UIDSet) ([]store.MessageRef, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch refs: %w", err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	where, args := uidSetSQL("uid", set)
	var p packed
	if err := s.r.QueryRowContext(ctx, `SELECT `+packedCols+` FROM messages INDEXED BY messages_refs
		WHERE mbx = ? AND (`+where+`)`, append([]any{mbx}, args...)...).Scan(p.dest()...); err != nil {
		return nil, fmt.Errorf("sqlite: fetch refs: %w", err)
	}
	refs, err := appendPacked(nil, &p, map[string][]string{})
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch refs: %w", err)
	}
	// uidSetSQL may widen a large set to its bounds.
	out := refs[:0]
	for _, r := range refs {
		if set.Contains(r.UID) {
			out = append(out, r)
		}
	}
	return out, nil
}
