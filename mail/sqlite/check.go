package sqlite

import (
	"context"
	"fmt"
	"sort"

	"github.com/eidermail/eider/mail/store"
)

// maxProblems bounds the report of one check.
const maxProblems = 1000

// CheckConsistency verifies the store's invariants on one snapshot and
// reports every violation in Check.Problems:
//   - per mailbox: UIDs unique and in [1, uid_next), MODSEQs in
//     [1, highest_modseq], counters (total, unseen, size) equal to the messages;
//   - per user: storage_used equals the sum of its message sizes;
//   - every message has its data row and its full-text row, either indexed
//     or queued for the background indexer (not yet indexed is no problem:
//     Search scans the queue), and the queue holds no other rows;
//   - blob_refs equals the references counted from the segment lists; every
//     referenced blob exists in the blob store with the recorded size; the
//     blob store holds no unreferenced blob (a blob written for an Append
//     still in flight shows up as unreferenced: check a quiet store).
func (s *Store) CheckConsistency(ctx context.Context) (*store.Check, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: check: %w", err)
	}
	defer tx.Rollback()
	c := &store.Check{}
	problem := func(format string, args ...any) {
		if len(c.Problems) < maxProblems {
			c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
		}
	}
	// each runs q and calls fn per row.
	each := func(q string, fn func(scan func(...any) error) error) error {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM mailboxes), (SELECT COUNT(*) FROM messages)`).Scan(&c.Mailboxes, &c.Messages); err != nil {
		return nil, fmt.Errorf("sqlite: check: %w", err)
	}
	steps := []struct {
		q  string
		fn func(scan func(...any) error) error
	}{
		{`SELECT mb.id, m.uid, COUNT(*) FROM messages m JOIN mailboxes mb ON mb.mbx = m.mbx GROUP BY m.mbx, m.uid HAVING COUNT(*) > 1`,
			func(scan func(...any) error) error {
				var mb string
				var uid, n int64
				if err := scan(&mb, &uid, &n); err != nil {
					return err
				}
				problem("mailbox %s: UID %d used by %d messages", mb, uid, n)
				return nil
			}},
		{`SELECT mb.id, m.id, m.uid, m.modseq, mb.uid_next, mb.highest_modseq, m.uno = mb.uno FROM messages m JOIN mailboxes mb ON mb.mbx = m.mbx
			WHERE m.uid < 1 OR m.uid >= mb.uid_next OR m.modseq < 1 OR m.modseq > mb.highest_modseq OR m.uno != mb.uno`,
			func(scan func(...any) error) error {
				var mb, id string
				var uid, modseq, next, hms int64
				var sameUser bool
				if err := scan(&mb, &id, &uid, &modseq, &next, &hms, &sameUser); err != nil {
					return err
				}
				problem("mailbox %s: message %s: uid %d (uidnext %d), modseq %d (highest %d), same user %v", mb, id, uid, next, modseq, hms, sameUser)
				return nil
			}},
		{`SELECT mb.id, mb.name, mb.total, mb.unseen, mb.size, COUNT(m.mno), COALESCE(SUM(m.sys & 1 = 0), 0), COALESCE(SUM(m.size), 0)
			FROM mailboxes mb LEFT JOIN messages m ON m.mbx = mb.mbx GROUP BY mb.mbx`,
			func(scan func(...any) error) error {
				var id, name string
				var t, u, sz, t2, u2, sz2 int64
				if err := scan(&id, &name, &t, &u, &sz, &t2, &u2, &sz2); err != nil {
					return err
				}
				if t != t2 || u != u2 || sz != sz2 {
					problem("mailbox %s %q: counters total=%d unseen=%d size=%d, messages say %d/%d/%d", id, name, t, u, sz, t2, u2, sz2)
				}
				return nil
			}},
		{`SELECT u.id, u.storage_used, COALESCE((SELECT SUM(size) FROM messages m WHERE m.uno = u.uno), 0) FROM users u`,
			func(scan func(...any) error) error {
				var id string
				var used, sum int64
				if err := scan(&id, &used, &sum); err != nil {
					return err
				}
				if used != sum {
					problem("user %s: storage_used %d, messages sum to %d", id, used, sum)
				}
				return nil
			}},
		// A message has its stored text (fts_text), and is either indexed
		// (fts or fts_bag) or queued for the indexer (fts_pending):
		// exactly one of the three.
		{`SELECT m.id, d.mno IS NULL, t.mno IS NULL, f.rowid IS NOT NULL, g.rowid IS NOT NULL, q.mno IS NOT NULL FROM messages m
			LEFT JOIN message_data d ON d.mno = m.mno LEFT JOIN fts_text t ON t.mno = m.mno
			LEFT JOIN fts f ON f.rowid = m.mno LEFT JOIN fts_bag g ON g.rowid = m.mno
			LEFT JOIN fts_pending q ON q.mno = m.mno
			WHERE d.mno IS NULL OR t.mno IS NULL OR (f.rowid IS NOT NULL) + (g.rowid IS NOT NULL) + (q.mno IS NOT NULL) != 1`,
			func(scan func(...any) error) error {
				var id string
				var noData, noText, indexed, bagged, queued bool
				if err := scan(&id, &noData, &noText, &indexed, &bagged, &queued); err != nil {
					return err
				}
				problem("message %s: missing data row %v, missing text %v, full-text row indexed %v, as a word set %v, queued %v (want exactly one)",
					id, noData, noText, indexed, bagged, queued)
				return nil
			}},
		{`SELECT 'queue', q.mno FROM fts_pending q WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.mno = q.mno)
			UNION ALL SELECT 'text store', t.mno FROM fts_text t WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.mno = t.mno) LIMIT 100`,
			func(scan func(...any) error) error {
				var where string
				var mno int64
				if err := scan(&where, &mno); err != nil {
					return err
				}
				problem("full-text %s holds row %d of no message", where, mno)
				return nil
			}},
		// Every indexed word must be in the word list, or substring
		// searches could not find it (fulltext.go).
		{`SELECT v.term FROM (SELECT term FROM fts_vocab UNION SELECT term FROM fts_bag_vocab) v
			WHERE NOT EXISTS (SELECT 1 FROM fts_words w WHERE w.term = v.term) LIMIT 100`,
			func(scan func(...any) error) error {
				var term string
				if err := scan(&term); err != nil {
					return err
				}
				problem("full-text word %q missing from the word list", term)
				return nil
			}},
	}
	for _, st := range steps {
		if err := each(st.q, st.fn); err != nil {
			return nil, fmt.Errorf("sqlite: check: %w", err)
		}
	}

	// Blob references.
	counted := map[string]int64{}
	sizes := map[string]int64{}
	if err := each(`SELECT m.id, d.segments, m.size FROM message_data d JOIN messages m ON m.mno = d.mno`, func(scan func(...any) error) error {
		var id string
		var b []byte
		var size int64
		if err := scan(&id, &b, &size); err != nil {
			return err
		}
		segs, err := decodeSegments(b)
		if err != nil {
			problem("message %s: %v", id, err)
			return nil
		}
		if err := checkSegments(segs, size); err != nil {
			problem("message %s: %v", id, err)
		}
		for _, sg := range segs {
			if sg.Hash != "" {
				counted[sg.Hash]++
				sizes[sg.Hash] = sg.Size
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sqlite: check: %w", err)
	}
	recorded := map[string]int64{}
	if err := each(`SELECT hash, refs FROM blob_refs`, func(scan func(...any) error) error {
		var h string
		var n int64
		if err := scan(&h, &n); err != nil {
			return err
		}
		recorded[h] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sqlite: check: %w", err)
	}
	for _, h := range sortedKeys(counted, recorded) {
		if counted[h] != recorded[h] {
			problem("blob %s: refcount %d, referenced by %d segments", h, recorded[h], counted[h])
		}
	}
	stored := map[string]int64{}
	if err := s.blobs.List(ctx, func(h string, size int64) error {
		stored[h] = size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("sqlite: check: list blobs: %w", err)
	}
	c.Blobs = int64(len(stored))
	for _, h := range sortedKeys(counted, stored) {
		sz, ok := stored[h]
		switch {
		case counted[h] > 0 && !ok:
			problem("blob %s: referenced by %d segments but missing from the blob store", h, counted[h])
		case counted[h] > 0 && sz != sizes[h]:
			problem("blob %s: stored size %d, segments say %d", h, sz, sizes[h])
		case counted[h] == 0 && ok:
			problem("blob %s: stored (%d bytes) but not referenced", h, sz)
		}
	}
	return c, nil
}

func sortedKeys(ms ...map[string]int64) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// SweepOrphanBlobs deletes blobs of the blob store that no message
// references (left by failed Appends). Pinned blobs (being appended) are
// kept by the blob store's Delete. It returns how many it deleted.
func (s *Store) SweepOrphanBlobs(ctx context.Context) (int, error) {
	var all []string
	if err := s.blobs.List(ctx, func(h string, _ int64) error {
		all = append(all, h)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("sqlite: sweep blobs: %w", err)
	}
	// Under the write lock no transaction can take a new reference between
	// the refcount lookup and the delete.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := 0
	for _, h := range all {
		var one int
		err := s.w.QueryRowContext(ctx, `SELECT 1 FROM blob_refs WHERE hash = ?`, h).Scan(&one)
		if err == nil {
			continue
		}
		if !isNoRows(err) {
			return n, fmt.Errorf("sqlite: sweep blobs: %w", err)
		}
		if err := s.blobs.Delete(ctx, h); err != nil {
			return n, fmt.Errorf("sqlite: sweep blobs: %w", err)
		}
		n++
	}
	return n, nil
}
