package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// refsFromRows lists a mailbox's refs row by row, independently of the
// packed queries and the cache of refs.go.
func refsFromRows(t *testing.T, s *Store, mailboxID string) []store.MessageRef {
	t.Helper()
	rows, err := s.r.DB.Query(`SELECT m.uid, m.modseq, m.id, m.flags FROM messages m
		JOIN mailboxes mb ON mb.mbx = m.mbx WHERE mb.id = ? ORDER BY m.uid`, mailboxID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []store.MessageRef{}
	for rows.Next() {
		var r store.MessageRef
		var flags string
		if err := rows.Scan(&r.UID, &r.ModSeq, &r.ID, &flags); err != nil {
			t.Fatal(err)
		}
		r.Flags = strings.Fields(flags)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameRefs(t *testing.T, what string, got, want []store.MessageRef) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d refs, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.UID != w.UID || g.ModSeq != w.ModSeq || g.ID != w.ID || !slices.Equal(g.Flags, w.Flags) {
			t.Fatalf("%s: ref %d = %+v, want %+v", what, i, g, w)
		}
	}
}

type refsCounts struct{ hits, merges, loads int64 }

func (c *refsCache) counts() refsCounts {
	return refsCounts{c.hits.Load(), c.merges.Load(), c.loads.Load()}
}

func fillMailbox(t *testing.T, s *Store, userID, mailboxID string, n int) {
	t.Helper()
	g := newTextGen(7)
	for i := 0; i < n; i += 500 {
		batch := make([]*store.NewMessage, 0, 500)
		for j := i; j < min(i+500, n); j++ {
			m := benchMessage(g, j, 300)
			if j%3 == 0 {
				m.Flags = []string{store.FlagSeen}
			}
			if j%7 == 0 {
				m.Flags = append(m.Flags, "$Label1")
			}
			batch = append(batch, m)
		}
		if err := s.appendBulk(context.Background(), userID, mailboxID, batch); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListRefsCache checks every listing against a row-by-row read while
// the mailbox changes in every way the store allows, and that the cache
// answered as expected (hit, merge of the delta, or full read).
func TestListRefsCache(t *testing.T) {
	s, _, _ := openTemp(t, "normal")
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "refs"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.CreateMailbox(ctx, u.ID, "Big", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateMailbox(ctx, u.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	s.refs.minLen = 200 // refsCacheMin is costly to fill under the race detector
	n := 400
	fillMailbox(t, s, u.ID, inbox.ID, n)
	fillMailbox(t, s, u.ID, other.ID, 10)

	step := 0
	check := func(what string, want refsCounts) {
		t.Helper()
		step++
		before := s.refs.counts()
		got, err := s.ListRefs(ctx, u.ID, inbox.ID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sameRefs(t, what, got, refsFromRows(t, s, inbox.ID))
		after := s.refs.counts()
		d := refsCounts{after.hits - before.hits, after.merges - before.merges, after.loads - before.loads}
		if d != want {
			t.Fatalf("%s: answered by %+v, want %+v", what, d, want)
		}
		// The caller owns the slice: changing it must not reach the cache.
		got[0].UID, got[0].ID = 0, "scribbled"
	}
	hit, merge, load := refsCounts{hits: 1}, refsCounts{merges: 1}, refsCounts{loads: 1}

	check("first listing", load)
	check("unchanged", hit)
	check("unchanged again", hit)

	if _, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 10, Stop: 20}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagFlagged, "NewKeyword"}}); err != nil {
		t.Fatal(err)
	}
	check("after flag change", merge)
	check("after merge", hit)

	if _, err := s.Append(ctx, u.ID, inbox.ID, benchMessage(newTextGen(1), 1, 300)); err != nil {
		t.Fatal(err)
	}
	check("after append", merge)

	if _, err := s.Copy(ctx, u.ID, other.ID, store.UIDSet{{Start: 1, Stop: 5}}, inbox.ID); err != nil {
		t.Fatal(err)
	}
	check("after copy in", merge)

	if _, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 30, Stop: 40}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted}}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Expunge(ctx, u.ID, inbox.ID, nil); err != nil || len(res.UIDs) != 11 {
		t.Fatalf("expunge = %+v, %v", res, err)
	}
	// The merge holds the 11 expunged messages: it is refused, and the
	// mailbox read again.
	check("after expunge", load)

	if _, err := s.Move(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 100, Stop: 104}}, other.ID); err != nil {
		t.Fatal(err)
	}
	check("after move out", load)

	// Expunge and append together keep the count: the merge is one too
	// large and still refused.
	if _, err := s.Delete(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 200, Stop: 200}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, u.ID, inbox.ID, benchMessage(newTextGen(2), 2, 300)); err != nil {
		t.Fatal(err)
	}
	check("after delete and append", load)

	// A change of more than 1/refsDeltaMax of the mailbox is read whole.
	if _, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 1}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagAnswered}}); err != nil {
		t.Fatal(err)
	}
	check("after STORE 1:*", load)
	check("after STORE 1:* again", hit)

	// Small mailboxes are never cached.
	for range 2 {
		before := s.refs.counts()
		got, err := s.ListRefs(ctx, u.ID, other.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameRefs(t, "small mailbox", got, refsFromRows(t, s, other.ID))
		if after := s.refs.counts(); after.loads != before.loads+1 {
			t.Fatalf("small mailbox: %+v -> %+v, want a full read each time", before, after)
		}
	}

	// A deleted mailbox is gone even though its listing is cached.
	if err := s.DeleteMailbox(ctx, u.ID, inbox.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ListRefs(ctx, u.ID, inbox.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ListRefs(deleted) = %v, want ErrNotFound", err)
	}
	t.Logf("%d listings checked", step)
}

// TestRefsCacheLimit checks that the cache holds at most its limit, least
// recently used entries going first, and that a negative Config.RefsCache
// disables it.
func TestRefsCacheLimit(t *testing.T) {
	c := newRefsCache(3 * refsCacheMin)
	mk := func(id string, n int) *refsEntry {
		return &refsEntry{mailboxID: id, modseq: 1, refs: make([]store.MessageRef, n)}
	}
	c.put(1, mk("a", refsCacheMin))
	c.put(2, mk("b", refsCacheMin))
	c.put(3, mk("c", refsCacheMin))
	if c.get(1, "a", 0) == nil { // a is now more recent than b
		t.Fatal("entry a missing")
	}
	c.put(4, mk("d", refsCacheMin))
	if c.get(2, "b", 0) != nil {
		t.Fatal("least recently used entry b kept beyond the limit")
	}
	for i, id := range []string{"a", "c", "d"} {
		if c.get([]int64{1, 3, 4}[i], id, 0) == nil {
			t.Fatalf("entry %s evicted", id)
		}
	}
	if c.held != 3*refsCacheMin {
		t.Fatalf("held %d, want %d", c.held, 3*refsCacheMin)
	}
	c.put(5, mk("big", 3*refsCacheMin+1))
	if c.get(5, "big", 0) != nil || c.held != 3*refsCacheMin {
		t.Fatalf("entry beyond the whole limit cached (held %d)", c.held)
	}
	if c.get(1, "other mailbox, same mbx", 0) != nil {
		t.Fatal("entry returned for another mailbox ID")
	}
	c.put(1, mk("a", 10))
	if c.get(1, "a", 0) != nil || c.held != 2*refsCacheMin {
		t.Fatalf("small listing replaced nothing (held %d)", c.held)
	}

	off := newRefsCache(-1)
	off.put(1, mk("a", refsCacheMin))
	if off.get(1, "a", 0) != nil {
		t.Fatal("disabled cache stored an entry")
	}
	for _, tc := range []struct{ cfg, want int }{{0, DefaultRefsCache}, {-1, 0}, {5000, 5000}} {
		bs, err := blob.NewFileStore(filepath.Join(t.TempDir(), "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "eider.db"), RefsCache: tc.cfg}, bs)
		if err != nil {
			t.Fatal(err)
		}
		if s.refs.limit != tc.want {
			t.Errorf("RefsCache %d: limit %d, want %d", tc.cfg, s.refs.limit, tc.want)
		}
		s.Close()
	}
}

// TestListRefsConcurrent lists a mailbox from several goroutines while a
// writer changes flags, appends and expunges: every listing is strictly
// ascending, and the last one equals a row-by-row read.
func TestListRefsConcurrent(t *testing.T) {
	s, _, _ := openTemp(t, "normal")
	s.refs.minLen = 50
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "refs"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, u.ID, "Big", "")
	if err != nil {
		t.Fatal(err)
	}
	fillMailbox(t, s, u.ID, mb.ID, 200)
	done := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				refs, err := s.ListRefs(ctx, u.ID, mb.ID)
				if err != nil {
					errs <- err
					return
				}
				for i := 1; i < len(refs); i++ {
					if refs[i].UID <= refs[i-1].UID {
						errs <- fmt.Errorf("listing not ascending at %d: %d after %d", i, refs[i].UID, refs[i-1].UID)
						return
					}
				}
			}
		}()
	}
	g := newTextGen(3)
	for i := range 60 {
		var err error
		switch i % 3 {
		case 0:
			_, err = s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: uint32(i + 1), Stop: uint32(i + 3)}},
				store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagFlagged}})
		case 1:
			_, err = s.Append(ctx, u.ID, mb.ID, benchMessage(g, i, 300))
		case 2:
			_, err = s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: uint32(i), Stop: uint32(i)}})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRefs(t, "final listing", got, refsFromRows(t, s, mb.ID))
	c := s.refs.counts()
	t.Logf("cache answers: %+v", c)
	if c.hits+c.merges == 0 {
		t.Fatal("the cache answered no listing")
	}
}
