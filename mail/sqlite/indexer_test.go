package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// waitIndexed polls until the indexer's queue is empty (deadline 30 s).
func waitIndexed(t testing.TB, s *Store) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := s.IndexQueue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("indexer: %d messages still queued after 30 s", n)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// waitBatch polls until the indexer has committed a batch (deadline 30 s).
// After waitIndexed the batch that emptied the queue may have committed
// without being counted yet: the counter moves after the commit.
func waitBatch(t testing.TB, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.ix.batches.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no indexer batch committed in 30 s")
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// count returns the rows of q (one integer column).
func count(t testing.TB, s *Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.r.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSearchFindsQueuedMessage: a message appended a moment ago, not yet
// indexed (indexer paused), is found by every kind of full-text search;
// the store is consistent meanwhile; the indexer then indexes it, and
// expunging removes the text from the queue or from the index.
func TestSearchFindsQueuedMessage(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "q"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(0, "old news", "an indexed message about gardening")); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, s)
	s.pauseIndexer()
	m, err := s.Append(ctx, u.ID, mb.ID, textMessage(1, "Fresh Delivery", "the zanzibar shipment arrived today"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.IndexQueue(ctx); n != 1 || err != nil {
		t.Fatalf("IndexQueue: %d, %v; want 1 queued", n, err)
	}
	if n := count(t, s, `SELECT count(*) FROM fts WHERE rowid = (SELECT mno FROM messages WHERE id = ?)`, m.ID); n != 0 {
		t.Fatal("the paused indexer indexed the message")
	}
	search := func() {
		t.Helper()
		for _, tc := range []struct {
			c    store.Criteria
			want []uint32
		}{
			{store.Criteria{Body: []string{"zanzibar"}}, []uint32{2}},     // a word no indexed message has
			{store.Criteria{Body: []string{"ANZIB"}}, []uint32{2}},        // inside a word
			{store.Criteria{Body: []string{"shipment arr"}}, []uint32{2}}, // phrase, prefix
			{store.Criteria{Body: []string{"message"}}, []uint32{1}},      // indexed only
			{store.Criteria{Text: []string{"fresh"}}, []uint32{2}},        // header text
			{store.Criteria{Text: []string{"e"}}, []uint32{1, 2}},         // both
			{store.Criteria{Header: []store.Header{{Key: "Subject", Value: "h deliv"}}}, []uint32{2}},
			{store.Criteria{Not: []store.Criteria{{Body: []string{"zanzibar"}}}}, []uint32{1}},
			{store.Criteria{Body: []string{"zanzibar gardening"}}, nil},
		} {
			got, err := s.Search(ctx, u.ID, mb.ID, &tc.c)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("search %+v = %v, %v; want %v", tc.c, got, err, tc.want)
			}
		}
	}
	search()
	c, err := s.CheckConsistency(ctx)
	if err != nil || len(c.Problems) > 0 {
		t.Fatalf("check with a queued message: %v %q", err, c.Problems)
	}
	s.resumeIndexer()
	waitIndexed(t, s)
	if n := count(t, s, `SELECT count(*) FROM fts WHERE rowid = (SELECT mno FROM messages WHERE id = ?)`, m.ID); n != 1 {
		t.Fatal("the indexer did not index the message")
	}
	if n := count(t, s, `SELECT count(*) FROM fts_words WHERE term = 'zanzibar'`); n != 1 {
		t.Fatal("the indexer did not add the message's words to the word list")
	}
	search()

	// Expunged: an indexed message leaves fts, a queued one the queue.
	s.pauseIndexer()
	q, err := s.Append(ctx, u.ID, mb.ID, textMessage(2, "queued", "to be expunged unindexed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: m.UID, Stop: m.UID}, {Start: q.UID, Stop: q.UID}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM fts_pending`); n != 0 {
		t.Fatalf("%d queued rows after deleting the queued message", n)
	}
	if n := count(t, s, `SELECT count(*) FROM fts`); n != 1 {
		t.Fatalf("%d indexed rows after deleting the indexed message, want 1", n)
	}
	if got, _ := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{"zanzibar"}}); len(got) != 0 {
		t.Fatalf("deleted message still found: %v", got)
	}
	if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
		t.Fatalf("check after delete: %v %q", err, c.Problems)
	}
}

// TestCopyQueuedMessage: a copy of a message still queued is searchable
// in the destination and gets indexed.
func TestCopyQueuedMessage(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "cq"})
	in, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	dst, err := s.CreateMailbox(ctx, u.ID, "Archive", "")
	if err != nil {
		t.Fatal(err)
	}
	s.pauseIndexer()
	if _, err := s.Append(ctx, u.ID, in.ID, textMessage(0, "s", "quokka photos")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Copy(ctx, u.ID, in.ID, store.UIDSet{{Start: 1, Stop: 1}}, dst.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{in.ID, dst.ID} {
		if got, err := s.Search(ctx, u.ID, id, &store.Criteria{Body: []string{"quokka"}}); err != nil || !slices.Equal(got, []uint32{1}) {
			t.Fatalf("search in %s = %v, %v", id, got, err)
		}
	}
	s.resumeIndexer()
	waitIndexed(t, s)
	if n := count(t, s, `SELECT count(*) FROM fts`); n != 2 {
		t.Fatalf("%d indexed rows, want 2", n)
	}
	if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
		t.Fatalf("check: %v %q", err, c.Problems)
	}
}

// TestIndexerResumesAfterReopen: messages queued when the store closes are
// indexed by the next Open's indexer, without any call.
func TestIndexerResumesAfterReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	path := filepath.Join(dir, "e.db")
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "re"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	s.pauseIndexer()
	for i := range 20 {
		if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(i, "s", "wombat burrow")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitIndexed(t, s)
	if n := count(t, s, `SELECT count(*) FROM fts WHERE fts MATCH 'wombat'`); n != 20 {
		t.Fatalf("%d messages indexed after reopen, want 20", n)
	}
	waitBatch(t, s) // a batch ran after reopen
}

// TestSyncPerGroup: groups that acknowledge appends commit with
// synchronous=FULL, the others (flag changes, the indexer) with NORMAL;
// Sync "normal" never uses FULL.
func TestSyncPerGroup(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []string{"", "normal"} {
		s, _, _ := openTemp(t, cfg)
		u, _ := s.CreateUser(ctx, store.NewUser{Username: "sy"})
		mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
		s.pauseIndexer()
		mode := func() string {
			s.wmu.Lock()
			defer s.wmu.Unlock()
			var n int
			if err := s.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return map[int]string{0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[n]
		}
		full := "FULL"
		if cfg == "normal" {
			full = "NORMAL"
		}
		if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(0, "s", "b")); err != nil {
			t.Fatal(err)
		}
		if got := mode(); got != full {
			t.Fatalf("Sync %q: after an append synchronous = %s, want %s", cfg, got, full)
		}
		if _, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1, Stop: 1}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
			t.Fatal(err)
		}
		if got := mode(); got != "NORMAL" {
			t.Fatalf("Sync %q: after a flag change synchronous = %s, want NORMAL", cfg, got)
		}
		if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(1, "s", "b")); err != nil {
			t.Fatal(err)
		}
		if got := mode(); got != full {
			t.Fatalf("Sync %q: after the second append synchronous = %s, want %s", cfg, got, full)
		}
		if _, err := s.IndexPending(ctx); err != nil {
			t.Fatal(err)
		}
		if got := mode(); got != "NORMAL" {
			t.Fatalf("Sync %q: after indexing synchronous = %s, want NORMAL", cfg, got)
		}
		if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
			t.Fatalf("check: %v %q", err, c.Problems)
		}
	}
}

// TestDeleteQueuedMailboxAndUser: deleting a mailbox or a user removes its
// messages' queued text too.
func TestDeleteQueuedMailboxAndUser(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	s.pauseIndexer()
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "dq"})
	in, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	other, err := s.CreateMailbox(ctx, u.ID, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	for i, mb := range []string{in.ID, other.ID, other.ID} {
		if _, err := s.Append(ctx, u.ID, mb, textMessage(i, "s", "ephemeral")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteMailbox(ctx, u.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM fts_pending`); n != 1 {
		t.Fatalf("%d rows queued after deleting a mailbox of 2, want 1", n)
	}
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM fts_pending`); n != 0 {
		t.Fatalf("%d rows queued after deleting the user", n)
	}
	if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
		t.Fatalf("check: %v %q", err, c.Problems)
	}
}

// TestMixedGroupSplits: when appends and flag changes are queued together,
// the flag changes commit first in a transaction of their own without
// fsync (synchronous=NORMAL), and the appends in another with FULL, so a
// STORE never waits for an append's fsync.
func TestMixedGroupSplits(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "mx"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	nm := textMessage(0, "mixed", "group")
	msg, err := prepareAppend(u.ID, mb.ID, nm)
	if err != nil {
		t.Fatal(err)
	}
	var modeInChange, modeInAppendGroup string
	pragma := func(t *wtx) string {
		var n int
		t.row(`PRAGMA synchronous`).Scan(&n)
		return map[int]string{1: "NORMAL", 2: "FULL"}[n]
	}
	app := &appendReq{ctx: ctx, msg: msg, m: nm, doc: newFTSDoc(nm), op: "append", done: make(chan error, 1)}
	change := &appendReq{ctx: ctx, op: "probe", done: make(chan error, 1), fn: func(t *wtx) error {
		modeInChange = pragma(t)
		return nil
	}}
	after := &appendReq{ctx: ctx, op: "probe", done: make(chan error, 1), fn: func(t *wtx) error {
		modeInAppendGroup = pragma(t)
		return nil
	}}
	s.wmu.Lock()
	before := s.groups.Load()
	s.runGroup([]*appendReq{app, change})
	commits := s.groups.Load() - before
	s.runGroup([]*appendReq{after})
	s.wmu.Unlock()
	if err := <-app.done; err != nil {
		t.Fatal(err)
	}
	if err := <-change.done; err != nil {
		t.Fatal(err)
	}
	<-after.done
	if commits != 2 || modeInChange != "NORMAL" {
		t.Fatalf("mixed batch: %d commits, flag change ran with synchronous=%s; want 2 commits and NORMAL", commits, modeInChange)
	}
	if modeInAppendGroup != "NORMAL" {
		t.Fatalf("a later change-only group ran with %s", modeInAppendGroup)
	}
	if m, err := s.GetMessage(ctx, u.ID, msg.ID); err != nil || m.UID != 1 {
		t.Fatalf("the append of the mixed batch: %v %+v", err, m)
	}
}

// TestExpungeUsesDeletedIndex: EXPUNGE finds \Deleted messages through the
// partial index of migration 0008, not by reading the whole mailbox; the
// query's term must stay written as the index's WHERE for that.
func TestExpungeUsesDeletedIndex(t *testing.T) {
	ctx := context.Background()
	if sysDeleted != 8 {
		t.Fatal("sysDeleted is no longer bit 8: migration 0008's index and deletedTerm must follow it")
	}
	s, _, _ := openTemp(t, "")
	q := `EXPLAIN QUERY PLAN SELECT mno, id, uid, size, sys, flags FROM messages WHERE mbx = ?` + deletedTerm + ` ORDER BY uid`
	rows, err := s.r.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "messages_deleted") {
		t.Fatalf("plan %q does not use messages_deleted", p)
	}
}

// TestConcurrentFirstListings: read transactions that meet a statement not
// yet cached must not wait for a free pool connection while holding one
// (with every connection held that way, they would wait forever).
func TestConcurrentFirstListings(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "cf"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(0, "s", "b")); err != nil {
		t.Fatal(err)
	}
	const n = 64
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			<-start
			_, err := s.ListRefs(ctx, u.ID, mb.ID)
			errs <- err
		}()
	}
	close(start)
	deadline := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatalf("%d of %d concurrent ListRefs still waiting: the read pool is deadlocked", n-i, n)
		}
	}
}

// TestWordSetIndex: a large text (IndexBagMin) is indexed as its set of
// distinct words (fts_bag), a small one with positions (fts). Strings of
// several words are found in both, including where the set's order does
// not keep the words adjacent ("alpha beta" below: the set is "beta alpha
// gamma"), and strings whose words are all present but not in that order
// are not; deleting the message leaves both indexes.
func TestWordSetIndex(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	const body = "beta alpha gamma alpha beta, Delta-epsilon"
	probe := textMessage(0, "", body)
	d := newFTSDoc(probe)
	// The large message is exactly at the threshold, the small one a byte
	// under it.
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "e.db"), IndexBagMin: len(d.headers) + len(d.body)}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "bag"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	large, err := s.Append(ctx, u.ID, mb.ID, textMessage(0, "", body))
	if err != nil {
		t.Fatal(err)
	}
	small, err := s.Append(ctx, u.ID, mb.ID, textMessage(1, "", body[:len(body)-1]))
	if err != nil {
		t.Fatal(err)
	}
	indexNow(t, s)
	mno := `(SELECT mno FROM messages WHERE id = ?)`
	if count(t, s, `SELECT count(*) FROM fts_bag WHERE rowid = `+mno, large.ID) != 1 ||
		count(t, s, `SELECT count(*) FROM fts WHERE rowid = `+mno, small.ID) != 1 {
		t.Fatal("the large message is not in fts_bag or the small one not in fts")
	}
	for _, c := range []struct {
		term string
		want []uint32
	}{
		{"alpha beta", []uint32{1, 2}},
		{"ALPHA BE", []uint32{1, 2}},
		{"lpha bet", []uint32{1, 2}},
		{"gamma alpha beta", []uint32{1, 2}},
		{"delta-epsilon", []uint32{1}}, // the small text ends in "epsilo"
		{"beta gamma", nil},            // both words present, never in this order
		{"alpha delta", nil},           // likewise
		{"gamma", []uint32{1, 2}},      // one word: the index alone decides
		{"amm", []uint32{1, 2}},        // inside a word
	} {
		got, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{c.term}})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("BODY %q = %v, %v; want %v", c.term, got, err, c.want)
		}
	}
	if chk, err := s.CheckConsistency(ctx); err != nil || len(chk.Problems) > 0 {
		t.Fatalf("consistency: %v %q", err, chk.Problems)
	}
	if _, err := s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1, Stop: 2}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM fts_bag`) + count(t, s, `SELECT count(*) FROM fts`) + count(t, s, `SELECT count(*) FROM fts_text`); n != 0 {
		t.Fatalf("%d full-text rows left after deleting both messages", n)
	}
	if chk, err := s.CheckConsistency(ctx); err != nil || len(chk.Problems) > 0 {
		t.Fatalf("consistency after delete: %v %q", err, chk.Problems)
	}
}
