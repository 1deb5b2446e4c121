package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eidermail/eider/mail/store"
)

// Mapping full-text hits to UIDs in Go.
//
// The word index answers with message numbers (fts.rowid = messages.mno).
// Turning thousands of them into the mailbox's UIDs in SQL costs one seek
// of the messages_mno index per hit, the bulk of a search for a common
// word in a large mailbox. A search whose criteria are a single BODY, TEXT
// or HEADER string (the usual one) therefore reads its hits packed into
// one text value and maps them through mnoCache: per large mailbox, its
// (mno, uid) pairs in mno order.
//
// An entry is valid as of the mailbox's highest_modseq and is brought up
// to date like the refs cache (refs.go, whose invariants it rests on):
// the messages with a greater MODSEQ are read through messages_modseq and
// merged by mno, the newer pair winning; the merge is a superset of the
// mailbox and is the mailbox exactly when its length equals total,
// otherwise (messages were removed) the pairs are read in full.

// mnoMapMin is the smallest mailbox searched through mnoCache: below it
// the SQL join is a few hundred seeks at most.
const mnoMapMin = 4096

// mnoLoadShare: a search reads a mailbox's map in full (when it has none
// or cannot bring it up to date) only if its hits number at least
// 1/mnoLoadShare of the mailbox's messages. Measured on 100,000 messages:
// a full read took 17 ms, the SQL join about 1.9 µs per hit, so the read
// pays for itself from about 9,000 hits on, and serves the searches after.
const mnoLoadShare = 16

// mnoCacheLimit is how many pairs mnoCache holds across mailboxes (16
// bytes each: 32 MiB at most).
const mnoCacheLimit = 1 << 21

// mnoUID is one message of a mailbox.
type mnoUID struct {
	mno int64
	uid uint32
}

func cmpMno(a, b mnoUID) int { return cmp.Compare(a.mno, b.mno) }

type mnoEntry struct {
	mailboxID   string // mbx numbers may be reused after a delete; IDs are not
	uidValidity int64
	modseq      int64
	pairs       []mnoUID // ascending mno, read-only once stored
	used        uint64
}

// mnoCache holds the mno→UID maps of recently searched large mailboxes,
// least recently used evicted first. Its zero value is ready to use.
type mnoCache struct {
	mu      sync.Mutex
	held    int
	tick    uint64
	entries map[int64]*mnoEntry
	// loads and merges count full reads and delta merges, lookups the
	// searches whose few hits were looked up in SQL instead (tests).
	loads, merges, lookups int
	// minTotal overrides mnoMapMin when set (tests).
	minTotal int64
}

func (c *mnoCache) get(mbx int64, mailboxID string, uidValidity int64) *mnoEntry {
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

func (c *mnoCache) put(mbx int64, e *mnoEntry, merged bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if merged {
		c.merges++
	} else {
		c.loads++
	}
	if c.entries == nil {
		c.entries = map[int64]*mnoEntry{}
	}
	if old := c.entries[mbx]; old != nil {
		c.held -= len(old.pairs)
		delete(c.entries, mbx)
	}
	if len(e.pairs) > mnoCacheLimit {
		return
	}
	for c.held+len(e.pairs) > mnoCacheLimit {
		var lru int64
		var lruE *mnoEntry
		for k, v := range c.entries {
			if lruE == nil || v.used < lruE.used {
				lru, lruE = k, v
			}
		}
		c.held -= len(lruE.pairs)
		delete(c.entries, lru)
	}
	c.tick++
	e.used = c.tick
	c.entries[mbx] = e
	c.held += len(e.pairs)
}

// soleSub is the subquery of the single top-level condition of a search,
// "m.mno IN (sql)", with its arguments; set by fullText and header.
type soleSub struct {
	sql  string
	args []any
}

// onlyOneString reports whether c is one BODY, TEXT or HEADER string and
// nothing else.
func onlyOneString(c *store.Criteria) bool {
	if len(c.Header)+len(c.Body)+len(c.Text) != 1 {
		return false
	}
	return len(c.UID) == 0 && len(c.Flag) == 0 && len(c.NotFlag) == 0 &&
		c.Before.IsZero() && c.On.IsZero() && c.Since.IsZero() &&
		c.SentBefore.IsZero() && c.SentOn.IsZero() && c.SentSince.IsZero() &&
		c.Larger == 0 && c.Smaller == 0 && c.ModSeq == 0 && len(c.Not) == 0 && len(c.Or) == 0
}

// searchMapped answers a search whose whole condition is "m.mno IN
// (sub)": it reads the hits packed, then maps them through mnoCache (or,
// when the map would have to be read in full for few hits, looks them up
// in SQL). ok is false when the mailbox is too small for it (the caller
// runs the SQL query instead).
func (s *Store) searchMapped(ctx context.Context, tx *sql.Tx, mbx int64, mailboxID string, sub soleSub) (uids []uint32, ok bool, err error) {
	var id string
	var uidValidity, hms, total int64
	if err := tx.QueryRowContext(ctx, `SELECT id, uid_validity, highest_modseq, total FROM mailboxes WHERE mbx = ?`,
		mbx).Scan(&id, &uidValidity, &hms, &total); err != nil {
		if err == sql.ErrNoRows {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("mailbox state: %w", err)
	}
	s.mnos.mu.Lock()
	minTotal := cmp.Or(s.mnos.minTotal, mnoMapMin)
	s.mnos.mu.Unlock()
	if id != mailboxID || total < minTotal {
		return nil, false, nil
	}
	var packedHits sql.NullString
	if err := tx.QueryRowContext(ctx, `WITH h(mno) AS (`+sub.sql+`) SELECT group_concat(mno) FROM h`, sub.args...).Scan(&packedHits); err != nil {
		return nil, false, fmt.Errorf("hits: %w", err)
	}
	hits, err := parseInts(packedHits.String)
	if err != nil {
		return nil, false, fmt.Errorf("hits: %w", err)
	}
	if len(hits) == 0 {
		return nil, true, nil
	}
	// The index answers in rowid order, the queued messages after it.
	if !slices.IsSorted(hits) {
		slices.Sort(hits)
	}
	hits = slices.Compact(hits)
	// Reading the map in full is worth it for many hits only (see
	// mnoLoadShare); few are looked up in SQL, one seek each.
	pairs, err := s.mnoPairs(ctx, tx, mbx, mailboxID, uidValidity, hms, total, int64(len(hits))*mnoLoadShare >= total)
	if err != nil {
		return nil, false, err
	}
	if pairs == nil {
		uids, err := lookUpHits(ctx, tx, mbx, packedHits.String)
		if err != nil {
			return nil, false, err
		}
		s.mnos.mu.Lock()
		s.mnos.lookups++
		s.mnos.mu.Unlock()
		return uids, true, nil
	}
	uids = make([]uint32, 0, min(len(hits), len(pairs)))
	// Both lists ascend: each lookup searches only past the previous one.
	rest := pairs
	for _, h := range hits {
		i, found := slices.BinarySearchFunc(rest, mnoUID{mno: h}, cmpMno)
		rest = rest[i:]
		if len(rest) == 0 {
			break
		}
		if found {
			uids = append(uids, rest[0].uid)
		}
	}
	if len(uids) == 0 {
		return nil, true, nil // as the SQL query answers
	}
	slices.Sort(uids)
	return uids, true, nil
}

// lookUpHits maps hits (a group_concat of mnos) to mailbox mbx's UIDs in
// SQL, one seek of messages_mno each, without running the search again.
func lookUpHits(ctx context.Context, tx *sql.Tx, mbx int64, hits string) ([]uint32, error) {
	var packedUIDs sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT group_concat(uid) FROM (SELECT m.uid FROM json_each(?) h
		JOIN messages m INDEXED BY messages_mno ON m.mno = h.value WHERE m.mbx = ? ORDER BY m.uid)`,
		"["+hits+"]", mbx).Scan(&packedUIDs); err != nil {
		return nil, fmt.Errorf("look up hits: %w", err)
	}
	vs, err := parseInts(packedUIDs.String)
	if err != nil {
		return nil, fmt.Errorf("look up hits: %w", err)
	}
	var uids []uint32
	for _, v := range vs {
		uids = append(uids, uint32(v))
	}
	return uids, nil
}

// mnoPairs returns the (mno, uid) pairs of mailbox mbx as of highest
// MODSEQ hms, from the cache brought up to date or read in full.
//
// It returns nil, and reads nothing in full, when a full read would be
// needed and load is false.
func (s *Store) mnoPairs(ctx context.Context, tx *sql.Tx, mbx int64, mailboxID string, uidValidity, hms, total int64, load bool) ([]mnoUID, error) {
	e := s.mnos.get(mbx, mailboxID, uidValidity)
	switch {
	case e != nil && e.modseq == hms && int64(len(e.pairs)) == total:
		return e.pairs, nil
	case e != nil && e.modseq < hms:
		delta, n, err := readPairs(ctx, tx, `SELECT group_concat(mno), group_concat(uid), COUNT(*) FROM (SELECT mno, uid
			FROM messages INDEXED BY messages_modseq WHERE mbx = ? AND modseq > ? LIMIT ?)`, mbx, e.modseq, total/refsDeltaMax+1)
		if err != nil {
			return nil, err
		}
		if n <= total/refsDeltaMax {
			slices.SortFunc(delta, cmpMno)
			merged := mergePairs(e.pairs, delta)
			if int64(len(merged)) == total {
				s.mnos.put(mbx, &mnoEntry{mailboxID: mailboxID, uidValidity: uidValidity, modseq: hms, pairs: merged}, true)
				return merged, nil
			}
		}
	}
	if !load {
		return nil, nil
	}
	pairs, _, err := readPairs(ctx, tx, `SELECT group_concat(mno), group_concat(uid), COUNT(*)
		FROM messages INDEXED BY messages_mno WHERE mbx = ?`, mbx)
	if err != nil {
		return nil, err
	}
	if !slices.IsSortedFunc(pairs, cmpMno) {
		slices.SortFunc(pairs, cmpMno)
	}
	s.mnos.put(mbx, &mnoEntry{mailboxID: mailboxID, uidValidity: uidValidity, modseq: hms, pairs: pairs}, false)
	return pairs, nil
}

// mergePairs merges two mno-ordered lists; on equal mno, delta's pair.
func mergePairs(base, delta []mnoUID) []mnoUID {
	out := make([]mnoUID, 0, len(base)+len(delta))
	i, j := 0, 0
	for i < len(base) && j < len(delta) {
		switch {
		case base[i].mno < delta[j].mno:
			out = append(out, base[i])
			i++
		case base[i].mno > delta[j].mno:
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

// readPairs runs q, which returns group_concat(mno), group_concat(uid)
// and COUNT(*) of the same rows.
func readPairs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]mnoUID, int64, error) {
	var mnos, uids sql.NullString
	var n int64
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&mnos, &uids, &n); err != nil {
		return nil, 0, fmt.Errorf("mno map: %w", err)
	}
	out := make([]mnoUID, 0, n)
	ms, us := mnos.String, uids.String
	for k := int64(0); k < n; k++ {
		var m, u string
		var ok1, ok2 bool
		m, ms, ok1 = strings.Cut(ms, ",")
		u, us, ok2 = strings.Cut(us, ",")
		mno, err1 := strconv.ParseInt(m, 10, 64)
		uid, err2 := strconv.ParseUint(u, 10, 32)
		if err1 != nil || err2 != nil || (ok1 != ok2) || (!ok1 && k != n-1) {
			return nil, 0, fmt.Errorf("mno map: row %d of %d does not parse (%q, %q)", k+1, n, m, u)
		}
		out = append(out, mnoUID{mno: mno, uid: uint32(uid)})
	}
	return out, n, nil
}

// parseInts parses a group_concat of integers ("" = none).
func parseInts(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]int64, 0, strings.Count(s, ",")+1)
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, ",")
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}
