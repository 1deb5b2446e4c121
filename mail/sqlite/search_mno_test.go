package sqlite

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/mail/store/storetest"
)

// TestSearchMappedFollowsChanges checks that the mno→UID maps of
// search_mno.go follow appends, flag changes, expunges, moves and copies:
// after each, a search mapped in Go answers what the SQL join answers,
// and the map was brought up to date by a delta or read again as expected.
func TestSearchMappedFollowsChanges(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, err := s.CreateUser(ctx, store.NewUser{Username: "mapped"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	other, err := s.CreateMailbox(ctx, u.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"alpha", "bravo", "charlie"}
	n := 0
	appendN := func(mbID string, k int) {
		t.Helper()
		for range k {
			body := fmt.Sprintf("%s note %d", words[n%len(words)], n)
			if _, err := s.Append(ctx, u.ID, mbID, textMessage(n, "msg "+words[(n+1)%len(words)], body)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	appendN(inbox.ID, 60)
	appendN(other.ID, 30)
	indexNow(t, s)

	criteria := []store.Criteria{
		{Body: []string{"alpha"}},
		{Text: []string{"brav"}},
		{Header: []store.Header{{Key: "Subject", Value: "charlie"}}},
		{Body: []string{"note 1"}},
		{Body: []string{"zzz"}},
	}
	// check compares every criteria's mapped answer with the SQL one in
	// both mailboxes, and the cache's counters with the expected ones.
	var loads, merges int
	check := func(step string, wantLoads, wantMerges int) {
		t.Helper()
		for _, mb := range []string{inbox.ID, other.ID} {
			for _, c := range criteria {
				s.mnos.mu.Lock()
				s.mnos.minTotal = math.MaxInt64
				s.mnos.mu.Unlock()
				want, err := s.Search(ctx, u.ID, mb, &c)
				if err != nil {
					t.Fatal(err)
				}
				s.mnos.mu.Lock()
				s.mnos.minTotal = 1
				s.mnos.mu.Unlock()
				got, err := s.Search(ctx, u.ID, mb, &c)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %+v in %s: mapped %v, SQL %v", step, c, mb, got, want)
				}
			}
		}
		loads += wantLoads
		merges += wantMerges
		if s.mnos.loads != loads || s.mnos.merges != merges {
			t.Fatalf("%s: %d loads and %d merges, want %d and %d", step, s.mnos.loads, s.mnos.merges, loads, merges)
		}
	}
	check("first", 2, 0) // one full read per mailbox, then cache hits
	check("unchanged", 0, 0)

	appendN(inbox.ID, 3) // queued, not indexed yet: found by the scan
	check("append queued", 0, 1)
	indexNow(t, s)
	check("indexed", 0, 0)

	if _, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 2, Stop: 5}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{`\Seen`}}); err != nil {
		t.Fatal(err)
	}
	check("flags", 0, 1)

	if _, err := s.Copy(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 10, Stop: 12}}, other.ID); err != nil {
		t.Fatal(err)
	}
	indexNow(t, s)
	check("copy", 0, 1)

	if _, err := s.Move(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 20, Stop: 22}}, other.ID); err != nil {
		t.Fatal(err)
	}
	indexNow(t, s)
	// Inbox lost messages: read again; Other gained some: merged.
	check("move", 1, 1)

	if _, err := s.Delete(ctx, u.ID, inbox.ID, store.UIDSet{{Start: 1, Stop: 1}}); err != nil {
		t.Fatal(err)
	}
	check("expunge", 1, 0)

	// The message with the greatest mno removed and another appended: the
	// new one reuses the mno (SQLite's rowid), and the map must take its
	// UID from the delta.
	appendN(inbox.ID, 1)
	indexNow(t, s)
	check("append", 0, 1)
	mb, err := s.GetMailbox(ctx, u.ID, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, u.ID, inbox.ID, store.UIDSet{{Start: mb.UIDNext - 1, Stop: mb.UIDNext - 1}}); err != nil {
		t.Fatal(err)
	}
	words[n%len(words)] = "alpha"
	appendN(inbox.ID, 1)
	indexNow(t, s)
	check("mno reused", 0, 1)

	// Few hits and no map: looked up in SQL, the map not read.
	s.mnos.mu.Lock()
	s.mnos.entries, s.mnos.held = nil, 0
	s.mnos.mu.Unlock()
	criteria = []store.Criteria{{Body: []string{"note 42"}}, {Body: []string{"note 61"}}}
	check("few hits", 0, 0)
	if s.mnos.lookups != 4 {
		t.Fatalf("%d searches looked up in SQL, want 4", s.mnos.lookups)
	}
}

// TestConformanceMapped runs the conformance suite with every search's
// hits mapped to UIDs in Go, whatever the mailbox's size.
func TestConformanceMapped(t *testing.T) {
	var mu sync.Mutex
	var stores []*Store
	storetest.Run(t, func(t *testing.T) (store.Store, blob.Store) {
		s, bs, _ := openTemp(t, "")
		s.mnos.minTotal = 1
		mu.Lock()
		stores = append(stores, s)
		mu.Unlock()
		return s, bs
	})
	mapped := 0
	for _, s := range stores {
		s.mnos.mu.Lock()
		mapped += s.mnos.loads + s.mnos.merges
		s.mnos.mu.Unlock()
	}
	if mapped == 0 {
		t.Fatal("no search of the suite was mapped in Go")
	}
	t.Logf("%d searches mapped through a full read or a merge", mapped)
}

// BenchmarkSearchMapped100k measures a common word's search in the 100k
// mailbox when the mno→UID map must be read in full (cold: dropped before
// each search) and when it is brought up to date after a flag change.
func BenchmarkSearchMapped100k(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	c := store.Criteria{Body: []string{vocabulary()[300]}}
	search := func(b *testing.B) {
		uids, err := f.s.Search(ctx, f.userID, f.mbID, &c)
		if err != nil {
			b.Fatal(err)
		}
		if len(uids) == 0 {
			b.Fatal("no hits")
		}
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			f.s.mnos.mu.Lock()
			f.s.mnos.entries, f.s.mnos.held = nil, 0
			f.s.mnos.mu.Unlock()
			search(b)
		}
	})
	b.Run("after-flag-change", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			mode := store.FlagsAdd
			if i%2 == 1 {
				mode = store.FlagsRemove
			}
			if _, err := f.s.StoreFlags(ctx, f.userID, f.mbID, store.UIDSet{{Start: 7, Stop: 7}}, store.FlagUpdate{Mode: mode, Flags: []string{"$h6"}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			search(b)
		}
	})
}
