package mongo_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/cluster"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/mongo/mongotest"
	"github.com/eidermail/eider/mail/store"
	"github.com/redis/go-redis/v9"
)

var discard = slog.New(slog.DiscardHandler)

// benchWriters is how many goroutines the benchmarks run, each on its own
// user (deliveries and sessions of many users).
const benchWriters = 8

type benchTarget struct{ user, mbox string }

// benchSetup opens `instances` stores on one fresh database, sharing a
// lock as instances do (redisLock: mail/cluster's Redis lock; else the
// database lock eider serve uses), and creates benchWriters users with
// preload messages each.
func benchSetup(b *testing.B, instances, preload int, redisLock bool) ([]*mongo.Store, []benchTarget) {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	b.Cleanup(func() { rdb.Close() })
	prefix := mongotest.Database() + ":"
	c, err := mongo.Connect(ctx, mongotest.URI(b))
	if err != nil {
		b.Fatal(err)
	}
	db := c.Database(mongotest.Database())
	b.Cleanup(func() { db.Drop(ctx); c.Disconnect(ctx) })
	var stores []*mongo.Store
	for i := 0; i < instances; i++ {
		ci, err := mongo.Connect(ctx, mongotest.URI(b))
		if err != nil {
			b.Fatal(err)
		}
		var l mongo.Locker = mongo.NewDBLocker(ci.Database(db.Name()), discard)
		if redisLock {
			l = cluster.New(rdb, cluster.Options{Prefix: prefix})
		}
		s, err := mongo.New(ctx, ci, mongo.Config{Database: db.Name(), Locker: l,
			Logger: discard}, mongo.NewGridFS(db, b.TempDir()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	var targets []benchTarget
	for w := 0; w < benchWriters; w++ {
		u, err := stores[0].CreateUser(ctx, store.NewUser{Username: fmt.Sprintf("bench%d", w), PasswordHash: "x"})
		if err != nil {
			b.Fatal(err)
		}
		mb, _ := stores[0].FindMailbox(ctx, u.ID, "INBOX")
		targets = append(targets, benchTarget{u.ID, mb.ID})
		for i := 0; i < preload; i++ {
			if _, err := stores[0].Append(ctx, u.ID, mb.ID, benchMsg()); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores, targets
}

var benchBody = []byte("From: a@example.com\r\nSubject: bench\r\n\r\nHello, this is a benchmark message.\r\n")

func benchMsg() *store.NewMessage {
	return &store.NewMessage{Size: int64(len(benchBody)), Segments: []blob.Segment{{Inline: benchBody, Size: int64(len(benchBody))}},
		Subject: "bench", From: "a@example.com", Text: "Hello, this is a benchmark message."}
}

// runParallel runs op from benchWriters goroutines, goroutine w on user w
// through instance w % instances.
func runParallel(b *testing.B, stores []*mongo.Store, targets []benchTarget, op func(s *mongo.Store, t benchTarget, i int) error) {
	var next atomic.Int64
	b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(next.Add(1)-1) % benchWriters
		s := stores[w%len(stores)]
		for i := 0; pb.Next(); i++ {
			if err := op(s, targets[w], i); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Delivery: one Append per op.
func benchAppend(b *testing.B, instances int, redisLock bool) {
	stores, targets := benchSetup(b, instances, 0, redisLock)
	runParallel(b, stores, targets, func(s *mongo.Store, t benchTarget, _ int) error {
		_, err := s.Append(context.Background(), t.user, t.mbox, benchMsg())
		return err
	})
}

// IMAP mix, per op: a STORE flag change, a FETCH of 10 messages with their
// data, a SEARCH UNSEEN, an APPEND, on a 100-message mailbox.
func benchMix(b *testing.B, instances int, redisLock bool) {
	stores, targets := benchSetup(b, instances, 100, redisLock)
	runParallel(b, stores, targets, func(s *mongo.Store, t benchTarget, i int) error {
		ctx := context.Background()
		uid := uint32(i%100 + 1)
		if _, err := s.StoreFlags(ctx, t.user, t.mbox, store.UIDSet{{Start: uid, Stop: uid}},
			store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{fmt.Sprintf("$k%d", i%7)}}); err != nil {
			return err
		}
		if _, err := s.Fetch(ctx, t.user, t.mbox, store.UIDSet{{Start: uid, Stop: uid + 9}}, true); err != nil {
			return err
		}
		if _, err := s.Search(ctx, t.user, t.mbox, &store.Criteria{NotFlag: []string{store.FlagSeen}}); err != nil {
			return err
		}
		_, err := s.Append(ctx, t.user, t.mbox, benchMsg())
		return err
	})
}

// The database lock (production) and, for comparison, the Redis lock.
func BenchmarkAppendOneInstance(b *testing.B)           { benchAppend(b, 1, false) }
func BenchmarkAppendTwoInstances(b *testing.B)          { benchAppend(b, 2, false) }
func BenchmarkAppendOneInstanceRedisLock(b *testing.B)  { benchAppend(b, 1, true) }
func BenchmarkAppendTwoInstancesRedisLock(b *testing.B) { benchAppend(b, 2, true) }
func BenchmarkIMAPMixOneInstance(b *testing.B)          { benchMix(b, 1, false) }
func BenchmarkIMAPMixTwoInstances(b *testing.B)         { benchMix(b, 2, false) }
func BenchmarkIMAPMixOneInstanceRedisLock(b *testing.B) { benchMix(b, 1, true) }
func BenchmarkIMAPMixTwoInstancesRedisLock(b *testing.B) {
	benchMix(b, 2, true)
}
