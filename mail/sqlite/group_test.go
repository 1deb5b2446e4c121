package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// Concurrent appends share transactions (group commit); a refused append in
// a group fails alone and the others commit: with a quota for exactly 50
// messages and 8 writers appending 100, exactly 50 succeed, the rest get
// ErrOverQuota, and usage, counters and search agree.
func TestGroupCommitRefusalsFailAlone(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "normal")
	const size = 100
	u, err := s.CreateUser(ctx, store.NewUser{Username: "g", QuotaLimit: 50 * size})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	var mu sync.Mutex
	ok, over, missing := 0, 0, 0
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 13; i++ {
				raw := make([]byte, size)
				copy(raw, fmt.Sprintf("Subject: w%d-%d\r\n\r\n", w, i))
				m := &store.NewMessage{Size: size, Segments: []blob.Segment{{Inline: raw, Size: size}},
					Subject: fmt.Sprintf("w%d-%d", w, i), Text: fmt.Sprintf("groupword%d", w)}
				target := mb.ID
				if i == 7 {
					target = "000000000000000000000000" // no such mailbox, in the same groups
				}
				_, err := s.Append(ctx, u.ID, target, m)
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, store.ErrOverQuota):
					over++
				case errors.Is(err, store.ErrNotFound):
					missing++
				default:
					t.Errorf("append: %v", err)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if ok != 50 || missing != 8 || over != 8*13-50-8 {
		t.Fatalf("ok %d, over quota %d, missing mailbox %d; want 50, %d, 8", ok, over, missing, 8*13-58)
	}
	got, _ := s.GetUser(ctx, u.ID)
	if got.StorageUsed != 50*size {
		t.Fatalf("storage used %d, want %d", got.StorageUsed, 50*size)
	}
	c, _ := s.Counters(ctx, u.ID, mb.ID)
	if c.Total != 50 || c.Size != 50*size {
		t.Fatalf("counters %+v, want 50 messages", c)
	}
	refs, _ := s.ListRefs(ctx, u.ID, mb.ID)
	for i := 1; i < len(refs); i++ {
		if refs[i].UID <= refs[i-1].UID || refs[i].ModSeq <= refs[i-1].ModSeq {
			t.Fatalf("UIDs/MODSEQs not strictly ascending at %d: %+v %+v", i, refs[i-1], refs[i])
		}
	}
	// Every committed message is in the full-text index (written last in
	// the group transaction).
	n := 0
	for w := 0; w < 8; w++ {
		uids, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{fmt.Sprintf("groupword%d", w)}})
		if err != nil {
			t.Fatal(err)
		}
		n += len(uids)
	}
	if n != 50 {
		t.Fatalf("full-text search finds %d of the 50 messages", n)
	}
	chk, err := s.CheckConsistency(ctx)
	if err != nil || len(chk.Problems) > 0 {
		t.Fatalf("consistency: %v %v", err, chk.Problems)
	}
}
