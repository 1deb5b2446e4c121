package sqlite

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// TestCheckpointerBoundsWAL: under appends from 8 writers without a pause,
// the writer never checkpoints (wal_autocheckpoint=0) and the checkpointer
// keeps the WAL from growing with what is written: the WAL file, which
// only grows, ends well under the data appended (under three quarters;
// in runs here 25–50%). Without the
// checkpointer's locked second pass, a checkpoint beside a busy writer
// never completes and the WAL holds every append.
func TestCheckpointerBoundsWAL(t *testing.T) {
	ctx := context.Background()
	s, _, dir := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "wal"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	s.pauseIndexer() // only appends write
	const writers, each, size = 8, 25, 256 << 10
	body := strings.Repeat("walrus ", size/7)
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(w*each+i, fmt.Sprint(w, i), body)); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	total := int64(writers * each * size * 2) // text in fts_text and in message_data
	fi, err := os.Stat(dir + "/eider.db-wal")
	if err != nil {
		t.Fatal(err)
	}
	if s.ck.runs.Load() == 0 {
		t.Fatal("the checkpointer never ran")
	}
	if fi.Size() > total*3/4 {
		t.Fatalf("WAL is %d bytes after %d bytes appended: checkpoints do not keep it bounded", fi.Size(), total)
	}
	t.Logf("appended about %d MB; WAL %d MB; %d checkpoints", total>>20, fi.Size()>>20, s.ck.runs.Load())
}
