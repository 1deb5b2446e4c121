package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/cluster"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/mongo/mongotest"
	"github.com/eidermail/eider/mail/store"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
)

// TestAtomicWithoutSharedLock runs two stores on one database, each with
// its own in-process lock (as two instances without Redis would), and
// appends to one mailbox from both: MongoDB's atomic findOneAndUpdate +
// $inc and the unique {mbox, uid} index alone must give unique ascending
// UIDs and exact counters.
//
// EIDER_FERRET_ATOMIC=1 runs it on FerretDB to show the lost updates there.
func TestAtomicWithoutSharedLock(t *testing.T) {
	if mongotest.FerretDB() && os.Getenv("EIDER_FERRET_ATOMIC") == "" {
		t.Skip("FerretDB: findAndModify/$inc are not atomic under concurrency (lost updates); on FerretDB instances must share a lock (the database lock, mongo.DBLocker). Runs against MONGO_URI.")
	}
	a := open(t)
	b := reopen(t, a, nil)
	appendFromBoth(t, a, b)
}

// TestTwoInstancesSharedLock: two stores on one database sharing the Redis
// lock (mail/cluster), as two instances in production: exact on FerretDB
// too, because every user write is serialized across them.
func TestTwoInstancesSharedLock(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer rdb.Close()
	prefix := mongotest.Database() + ":"
	a := open(t)
	a1 := reopen(t, a, cluster.New(rdb, cluster.Options{Prefix: prefix}))
	b := reopen(t, a, cluster.New(rdb, cluster.Options{Prefix: prefix}))
	appendFromBoth(t, a1, b)
}

func redisAddr() string {
	if a := os.Getenv("EIDER_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// reopen opens a second store on a's database with its own client and the
// given locker (nil: its own in-process lock).
func reopen(t *testing.T, a *mongo.Store, l mongo.Locker) *mongo.Store {
	t.Helper()
	b, err := mongo.New(context.Background(), mustConnect(t), mongo.Config{Database: a.Database().Name(), Locker: l,
		Logger: slog.New(slog.DiscardHandler)}, mongo.NewGridFS(a.Database(), t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// appendFromBoth appends to one mailbox from writers on a and b and checks
// unique ascending UIDs and exact counters.
func appendFromBoth(t *testing.T, a, b *mongo.Store) {
	ctx := context.Background()
	u, err := a.CreateUser(ctx, store.NewUser{Username: "atomic", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := a.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	const writers, per = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var total int64
	var mu sync.Mutex
	for w := 0; w < writers; w++ {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func(w int, s *mongo.Store) {
			defer wg.Done()
			var last uint32
			for i := 0; i < per; i++ {
				body := []byte(fmt.Sprintf("Subject: w%d-%d\r\n\r\nbody\r\n", w, i))
				m, err := s.Append(ctx, u.ID, mb.ID, &store.NewMessage{Size: int64(len(body)),
					Segments: []blob.Segment{{Inline: body, Size: int64(len(body))}}})
				if err != nil {
					errs <- err
					return
				}
				if m.UID <= last {
					errs <- fmt.Errorf("writer %d: UID %d after %d", w, m.UID, last)
					return
				}
				last = m.UID
				mu.Lock()
				total += m.Size
				mu.Unlock()
			}
		}(w, s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	refs, err := a.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for _, r := range refs {
		if seen[r.UID] {
			t.Fatalf("UID %d stored twice", r.UID)
		}
		seen[r.UID] = true
	}
	c, err := a.Counters(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := a.GetMailbox(ctx, u.ID, mb.ID)
	usr, _ := a.GetUser(ctx, u.ID)
	if len(refs) != writers*per || c.Total != writers*per || c.Size != total || usr.StorageUsed != total || got.UIDNext != writers*per+1 {
		t.Fatalf("%d messages, counters %+v, UIDNext %d, StorageUsed %d; want %d messages of %d bytes",
			len(refs), c, got.UIDNext, usr.StorageUsed, writers*per, total)
	}
}

func mustConnect(t *testing.T) *mongodrv.Client {
	t.Helper()
	c, err := mongo.Connect(context.Background(), mongotest.URI(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDuplicateUIDAllocatesAgain: when the mailbox's uidnext is behind a
// stored UID (a writer that crashed between steps, or one without the
// lock), the unique {mbox, uid} index refuses the insert and Append
// allocates again: the new message gets a fresh, higher UID.
func TestDuplicateUIDAllocatesAgain(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	u, err := s.CreateUser(ctx, store.NewUser{Username: "dup", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	body := []byte("Subject: x\r\n\r\nx\r\n")
	nm := func() *store.NewMessage {
		return &store.NewMessage{Size: int64(len(body)), Segments: []blob.Segment{{Inline: body, Size: int64(len(body))}}}
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, u.ID, mb.ID, nm()); err != nil {
			t.Fatal(err)
		}
	}
	// Rewind uidnext by two, as a lost update would.
	if _, err := s.Database().Collection("mailboxes").UpdateOne(ctx, bson.D{{Key: "_id", Value: mb.ID}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "uidnext", Value: -2}}}}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Append(ctx, u.ID, mb.ID, nm())
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != 4 {
		t.Fatalf("append after a rewound uidnext got UID %d, want 4 (2 and 3 are taken)", m.UID)
	}
	refs, _ := s.ListRefs(ctx, u.ID, mb.ID)
	if len(refs) != 4 || refs[3].UID != 4 || refs[2].UID != 3 {
		t.Fatalf("refs %+v", refs)
	}
}
