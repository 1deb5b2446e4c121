package storetest

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// Concurrency sizes: Writers goroutines append PerWriter messages each
// (fewer with -short) while Flippers goroutines flip their own keyword.
const (
	Writers        = 8
	PerWriter      = 500
	PerWriterShort = 60
	Flippers       = 2
)

func testConcurrency(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	perWriter := PerWriter
	if testing.Short() {
		perWriter = PerWriterShort
	}
	if h.opts.PerWriter > 0 {
		perWriter = h.opts.PerWriter
	}
	u := h.user("conc")
	mb := h.mailbox(u, "INBOX")

	var mu sync.Mutex
	var appended []uint32 // UIDs appended so far, for the flippers
	modseqs := map[uint64]string{}
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	seeModSeq := func(m uint64, who string) {
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := modseqs[m]; dup {
			if len(errs) < 20 {
				errs = append(errs, fmt.Sprintf("MODSEQ %d given to two changes (%s and %s)", m, prev, who))
			}
		}
		modseqs[m] = who
	}

	var wg sync.WaitGroup
	var sizes [Writers]int64
	for w := 0; w < Writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var lastUID uint32
			var lastMod uint64
			for i := 0; i < perWriter; i++ {
				nm := h.msg(spec{Subject: fmt.Sprintf("w%d-%d", w, i), From: "load@example.com", Body: fmt.Sprintf("writer %d message %d", w, i)})
				m, err := s.Append(ctx, u.ID, mb.ID, nm)
				if err != nil {
					fail("writer %d append %d: %v", w, i, err)
					return
				}
				if m.UID <= lastUID || m.ModSeq <= lastMod {
					fail("writer %d: append %d got UID %d MODSEQ %d after UID %d MODSEQ %d (must strictly increase)", w, i, m.UID, m.ModSeq, lastUID, lastMod)
				}
				lastUID, lastMod = m.UID, m.ModSeq
				sizes[w] += m.Size
				seeModSeq(m.ModSeq, fmt.Sprintf("append w%d/%d", w, i))
				mu.Lock()
				appended = append(appended, m.UID)
				mu.Unlock()
			}
		}(w)
	}

	done := make(chan struct{})
	var fwg sync.WaitGroup
	states := make([]map[uint32]bool, Flippers)
	for f := 0; f < Flippers; f++ {
		states[f] = map[uint32]bool{}
		fwg.Add(1)
		go func(f int) {
			defer fwg.Done()
			rnd := rand.New(rand.NewSource(int64(f)))
			kw := fmt.Sprintf("$flip%d", f)
			var lastMod uint64
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				var uid uint32
				if len(appended) > 0 {
					uid = appended[rnd.Intn(len(appended))]
				}
				mu.Unlock()
				if uid == 0 || int(uid)%Flippers != f { // each flipper owns its UIDs
					continue
				}
				add := rnd.Intn(2) == 0
				mode := store.FlagsRemove
				if add {
					mode = store.FlagsAdd
				}
				res, err := s.StoreFlags(ctx, u.ID, mb.ID, set(uid), store.FlagUpdate{Mode: mode, Flags: []string{kw}})
				if err != nil {
					fail("flipper %d: StoreFlags(%d): %v", f, uid, err)
					return
				}
				changed := len(res.Updated) == 1
				if changed != (states[f][uid] != add) {
					fail("flipper %d: UID %d: add=%v changed=%v but flag was %v", f, uid, add, changed, states[f][uid])
				}
				if changed {
					if res.ModSeq <= lastMod || res.Updated[0].ModSeq != res.ModSeq {
						fail("flipper %d: MODSEQ %d after %d", f, res.ModSeq, lastMod)
					}
					lastMod = res.ModSeq
					seeModSeq(res.ModSeq, fmt.Sprintf("flip f%d uid %d", f, uid))
					if slices.Contains(res.Updated[0].Flags, kw) != add {
						fail("flipper %d: UID %d result flags %v, add=%v", f, uid, res.Updated[0].Flags, add)
					}
				}
				states[f][uid] = add
			}
		}(f)
	}
	wg.Wait()
	close(done)
	fwg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrency errors:\n  %s", fmt.Sprint(errs))
	}

	refs := h.refs(u, mb)
	if len(refs) != Writers*perWriter {
		t.Fatalf("mailbox holds %d messages, want %d", len(refs), Writers*perWriter)
	}
	for i := 1; i < len(refs); i++ {
		if refs[i].UID <= refs[i-1].UID {
			t.Fatalf("ListRefs UIDs not strictly ascending at %d: %d after %d", i, refs[i].UID, refs[i-1].UID)
		}
	}
	byUID := map[uint32]store.MessageRef{}
	for _, r := range refs {
		byUID[r.UID] = r
	}
	lost := 0
	for f, st := range states {
		kw := fmt.Sprintf("$flip%d", f)
		for uid, want := range st {
			if slices.Contains(byUID[uid].Flags, kw) != want {
				lost++
				if lost < 5 {
					t.Errorf("UID %d: flipper %d last set %s=%v, stored flags %v", uid, f, kw, want, byUID[uid].Flags)
				}
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d flag updates lost", lost)
	}
	c := h.counters(u, mb)
	var total int64
	for _, s := range sizes {
		total += s
	}
	usr, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	if c.Size != total || usr.StorageUsed != total || c.Total != int64(Writers*perWriter) || c.Unseen != c.Total {
		t.Fatalf("counters %+v, StorageUsed %d; want total %d, size %d", c, usr.StorageUsed, Writers*perWriter, total)
	}
	mbx := h.getMailbox(u, mb.ID)
	if mbx.UIDNext != uint32(Writers*perWriter+1) {
		t.Fatalf("UIDNext %d, want %d", mbx.UIDNext, Writers*perWriter+1)
	}
	// Journal: Seq increasing, message MODSEQs in order within the mailbox.
	chs, err := s.Changes(ctx, u.ID, mb.ID, 0, 0)
	noErr(t, "Changes", err)
	var lastSeq int64
	var lastMod uint64
	for _, ch := range chs {
		if ch.Seq <= lastSeq || ch.Kind != store.ChangeMailboxCreate && ch.ModSeq < lastMod {
			t.Fatalf("journal out of order: seq %d modseq %d after seq %d modseq %d", ch.Seq, ch.ModSeq, lastSeq, lastMod)
		}
		lastSeq = ch.Seq
		if ch.ModSeq > 0 {
			lastMod = ch.ModSeq
		}
	}
	if lastMod != mbx.HighestModSeq {
		t.Fatalf("last journaled MODSEQ %d, HighestModSeq %d", lastMod, mbx.HighestModSeq)
	}
}
