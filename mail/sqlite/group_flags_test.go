package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// Concurrent StoreFlags and Expunge calls share group transactions: every
// change is present afterwards with its own MODSEQ, the journal lists them
// in MODSEQ order, and failing callers in the same groups (unknown mailbox,
// UNCHANGEDSINCE refusal, a write that errors after it wrote) fail alone
// without leaving any of their writes behind.
func TestGroupCommitFlagsConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "normal")
	u, err := s.CreateUser(ctx, store.NewUser{Username: "gf"})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	other, err := s.CreateMailbox(ctx, u.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	const msgs, writers, expungers = 30, 10, 3
	add := func(mbID string, i int) uint32 {
		raw := []byte(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i))
		m, err := s.Append(ctx, u.ID, mbID, &store.NewMessage{Size: int64(len(raw)),
			Segments: []blob.Segment{{Inline: raw, Size: int64(len(raw))}}, Subject: fmt.Sprintf("m%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		return m.UID
	}
	var uids []uint32
	for i := 0; i < msgs; i++ {
		uids = append(uids, add(inbox.ID, i))
	}
	var doomed []uint32
	for i := 0; i < expungers*msgs/3; i++ {
		doomed = append(doomed, add(other.ID, i))
	}
	before, _ := s.GetMailbox(ctx, u.ID, inbox.ID)
	otherBefore, _ := s.GetMailbox(ctx, u.ID, other.ID)

	var mu sync.Mutex
	modseqs := map[uint64]uint32{} // INBOX MODSEQ -> UID it was given to
	var otherChanges int
	var wg sync.WaitGroup
	fail := func(format string, a ...any) { t.Errorf(format, a...) }
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			kw := fmt.Sprintf("$k%d", w)
			for i, uid := range uids {
				res, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: uid, Stop: uid}},
					store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{kw}})
				if err != nil || len(res.Updated) != 1 || res.ModSeq == 0 || res.Updated[0].ModSeq != res.ModSeq {
					fail("writer %d uid %d: %+v %v", w, uid, res, err)
					return
				}
				mu.Lock()
				if prev, dup := modseqs[res.ModSeq]; dup {
					fail("MODSEQ %d given to uid %d and uid %d", res.ModSeq, prev, uid)
				}
				modseqs[res.ModSeq] = uid
				mu.Unlock()
				switch i % 3 {
				case 0: // unknown mailbox, in the same groups
					_, err := s.StoreFlags(ctx, u.ID, "000000000000000000000000", store.UIDSet{{Start: 1, Stop: 0}},
						store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{kw}})
					if !errors.Is(err, store.ErrNotFound) {
						fail("unknown mailbox: %v", err)
					}
				case 1: // UNCHANGEDSINCE older than the message: refused, nothing written
					res, err := s.StoreFlags(ctx, u.ID, inbox.ID, store.UIDSet{{Start: uid, Stop: uid}},
						store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"$never"}, UnchangedSince: 1})
					if err != nil || len(res.Updated) != 0 || !slices.Equal(res.Modified, []uint32{uid}) {
						fail("unchangedsince: %+v %v", res, err)
					}
				case 2: // a write that fails after writing is rolled back alone
					boom := errors.New("boom")
					err := s.groupUpdate(ctx, "test", func(t *wtx) error {
						mbx, _, err := mailboxNo(t.ctx, t, u.ID, inbox.ID)
						if err != nil {
							return err
						}
						if _, err := bumpModSeq(t, mbx); err != nil {
							return err
						}
						if _, err := t.exec(`UPDATE messages SET flags = '$bogus' WHERE mbx = ?`, mbx); err != nil {
							return err
						}
						return boom
					})
					if !errors.Is(err, boom) {
						fail("failing write: %v", err)
					}
				}
			}
		}(w)
	}
	for e := 0; e < expungers; e++ {
		wg.Add(1)
		go func(e int) {
			defer wg.Done()
			for i := e; i < len(doomed); i += expungers {
				uid := doomed[i]
				set := store.UIDSet{{Start: uid, Stop: uid}}
				if _, err := s.StoreFlags(ctx, u.ID, other.ID, set,
					store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted}}); err != nil {
					fail("flag deleted: %v", err)
					return
				}
				res, err := s.Expunge(ctx, u.ID, other.ID, set)
				if err != nil || !slices.Equal(res.UIDs, []uint32{uid}) {
					fail("expunge %d: %+v %v", uid, res, err)
					return
				}
				mu.Lock()
				otherChanges += 2
				mu.Unlock()
			}
		}(e)
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every change is present, each with its own MODSEQ; the rolled-back
	// writes left neither a MODSEQ nor a flag behind.
	if len(modseqs) != writers*msgs {
		t.Fatalf("%d distinct MODSEQs, want %d", len(modseqs), writers*msgs)
	}
	after, _ := s.GetMailbox(ctx, u.ID, inbox.ID)
	if after.HighestModSeq != before.HighestModSeq+uint64(writers*msgs) {
		t.Fatalf("INBOX HIGHESTMODSEQ %d -> %d, want +%d", before.HighestModSeq, after.HighestModSeq, writers*msgs)
	}
	refs, err := s.ListRefs(ctx, u.ID, inbox.ID)
	if err != nil || len(refs) != msgs {
		t.Fatalf("list: %d refs, %v", len(refs), err)
	}
	for _, r := range refs {
		for w := 0; w < writers; w++ {
			if !slices.Contains(r.Flags, fmt.Sprintf("$k%d", w)) {
				t.Fatalf("uid %d lacks $k%d: %v", r.UID, w, r.Flags)
			}
		}
		if slices.Contains(r.Flags, "$bogus") || slices.Contains(r.Flags, "$never") {
			t.Fatalf("uid %d has a refused or rolled-back flag: %v", r.UID, r.Flags)
		}
		if modseqs[r.ModSeq] != r.UID {
			t.Fatalf("uid %d MODSEQ %d was not returned for it", r.UID, r.ModSeq)
		}
	}
	otherAfter, _ := s.GetMailbox(ctx, u.ID, other.ID)
	if otherAfter.HighestModSeq != otherBefore.HighestModSeq+uint64(otherChanges) {
		t.Fatalf("Other HIGHESTMODSEQ %d -> %d, want +%d", otherBefore.HighestModSeq, otherAfter.HighestModSeq, otherChanges)
	}
	if c, _ := s.Counters(ctx, u.ID, other.ID); c.Total != 0 || c.Size != 0 {
		t.Fatalf("Other counters after expunging all: %+v", c)
	}

	// The journal holds every flag change once, in MODSEQ order per mailbox.
	chs, err := s.Changes(ctx, u.ID, inbox.ID, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	n := 0
	for _, c := range chs {
		if c.Kind != store.ChangeFlags {
			continue
		}
		if c.ModSeq <= last || modseqs[c.ModSeq] != c.UID {
			t.Fatalf("journal entry %+v after MODSEQ %d (returned to uid %d)", c, last, modseqs[c.ModSeq])
		}
		last = c.ModSeq
		n++
	}
	if n != writers*msgs {
		t.Fatalf("journal has %d flag changes, want %d", n, writers*msgs)
	}
	chk, err := s.CheckConsistency(ctx)
	if err != nil || len(chk.Problems) > 0 {
		t.Fatalf("consistency: %v %v", err, chk.Problems)
	}
}

// BenchmarkStoreFlagsParallel measures single-message STOREs from 1 and 10
// concurrent writers with the default synchronous=FULL, through the group
// commit (group) and with one transaction per call (solo, the old path).
func BenchmarkStoreFlagsParallel(b *testing.B) {
	for _, mode := range []string{"solo", "group"} {
		for _, writers := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				ctx := context.Background()
				s, _, _ := openTemp(b, "")
				s.soloWrites = mode == "solo"
				u, _ := s.CreateUser(ctx, store.NewUser{Username: "b"})
				mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
				const msgs = 200
				for i := 0; i < msgs; i++ {
					raw := []byte(fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i))
					if _, err := s.Append(ctx, u.ID, mb.ID, &store.NewMessage{Size: int64(len(raw)),
						Segments: []blob.Segment{{Inline: raw, Size: int64(len(raw))}}}); err != nil {
						b.Fatal(err)
					}
				}
				s.groups.Store(0)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							n := next.Add(1)
							if n > int64(b.N) {
								return
							}
							uid := uint32(n%msgs) + 1
							res, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: uid, Stop: uid}},
								store.FlagUpdate{Mode: store.FlagsSet, Flags: []string{fmt.Sprintf("$v%d", n)}})
							if err != nil || len(res.Updated) != 1 {
								b.Errorf("store: %+v %v", res, err)
								return
							}
						}
					}()
				}
				wg.Wait()
				if mode == "group" {
					b.ReportMetric(float64(b.N)/float64(s.groups.Load()), "stores/commit")
				}
			})
		}
	}
}
