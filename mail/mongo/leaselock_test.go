package mongo_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mongo"
	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// lockersOn returns n DBLockers on a's database, each with its own client
// (as n instances).
func lockersOn(t *testing.T, a *mongo.Store, n int) []*mongo.DBLocker {
	var ls []*mongo.DBLocker
	for i := 0; i < n; i++ {
		c := mustConnect(t)
		t.Cleanup(func() { c.Disconnect(context.Background()) })
		ls = append(ls, mongo.NewDBLocker(c.Database(a.Database().Name()), slog.New(slog.DiscardHandler)))
	}
	return ls
}

// hammer runs writers goroutines spread over the lockers, each taking the
// lock on key rounds times; inside, it counts holders (must never exceed
// one) and does a read-modify-write of a counter document that loses
// updates unless the lock excludes (FerretDB's updates are not atomic, and
// a find then replace is not atomic anywhere).
func hammer(t *testing.T, a *mongo.Store, ls []*mongo.DBLocker, key string, writers, rounds int) {
	ctx := context.Background()
	coll := a.Database().Collection("locktest")
	var holders, maxHolders atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		l := ls[w%len(ls)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				unlock, err := l.Lock(ctx, key)
				if err != nil {
					errs <- err
					return
				}
				if h := holders.Add(1); h > maxHolders.Load() {
					maxHolders.Store(h)
				}
				var d struct {
					N int64 `bson:"n"`
				}
				err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d)
				if err == nil || errors.Is(err, mongodrv.ErrNoDocuments) {
					_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: key}}, bson.D{{Key: "n", Value: d.N + 1}},
						options.Replace().SetUpsert(true))
				}
				holders.Add(-1)
				unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m := maxHolders.Load(); m != 1 {
		t.Fatalf("%d holders of %s at once", m, key)
	}
	var d struct {
		N int64 `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.N != int64(writers*rounds) {
		t.Fatalf("counter under the lock = %d, want %d: the lock did not exclude", d.N, writers*rounds)
	}
	if n, _ := a.Database().Collection("locks").CountDocuments(ctx, bson.D{{Key: "_id", Value: key}}); n != 0 {
		t.Fatalf("lease of %s left after every unlock", key)
	}
}

// TestDBLockerExclusive: writers on four clients (four instances) contend for
// one key; the unique _id of the lease document alone must exclude them.
// On FerretDB this is the proof that its _id uniqueness is atomic under
// concurrent inserts.
func TestDBLockerExclusive(t *testing.T) {
	a := open(t)
	hammer(t, a, lockersOn(t, a, 4), "user:x", 8, 25)
}

// TestDBLockerTakeover: a lease left by a crashed holder (expired) is taken
// over, by exactly one of several waiters at a time, and the lock keeps
// excluding afterwards.
func TestDBLockerTakeover(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	locks := a.Database().Collection("locks")
	if _, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: "user:dead"}, {Key: "owner", Value: "crashed"},
		{Key: "expires", Value: bson.NewDateTimeFromTime(time.Now().Add(-time.Second))}}); err != nil {
		t.Fatal(err)
	}
	hammer(t, a, lockersOn(t, a, 3), "user:dead", 6, 5)
	n, err := locks.CountDocuments(ctx, bson.D{{Key: "claim", Value: true}, {Key: "_id", Value: bson.D{{Key: "$regex", Value: "^takeover:user:dead:"}}}})
	if err != nil || n != 1 {
		t.Fatalf("%d takeover claims (err %v), want exactly 1 for the one expired lease", n, err)
	}
	// A waiter that won the takeover claim and died before deleting the
	// expired lease blocks the key for one more lease period only: then a
	// new claim slot opens. (Lease 45 s: an expiry 50 s ago is in slot 1.)
	if _, err := locks.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: "user:stuck"}, {Key: "owner", Value: "crashed"},
			{Key: "expires", Value: bson.NewDateTimeFromTime(time.Now().Add(-50 * time.Second))}},
		bson.D{{Key: "_id", Value: "takeover:user:stuck:crashed:0"}, {Key: "owner", Value: "died-too"}, {Key: "claim", Value: true}},
	}); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	unlock, err := lockersOn(t, a, 1)[0].Lock(sctx, "user:stuck")
	if err != nil {
		t.Fatalf("lease whose takeover winner died: %v", err)
	}
	unlock()
	// A live lease is not taken over: Lock waits for it until ctx ends.
	if _, err := locks.InsertOne(ctx, bson.D{{Key: "_id", Value: "user:live"}, {Key: "owner", Value: "other"},
		{Key: "expires", Value: bson.NewDateTimeFromTime(time.Now().Add(time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	l := lockersOn(t, a, 1)[0]
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if unlock, err := l.Lock(wctx, "user:live"); err == nil {
		unlock()
		t.Fatal("took a live lease of another holder")
	}
}

// TestTwoInstancesDBLock: two stores on one database sharing only the
// database lock (no Redis at all), as two instances while Redis is away:
// concurrent appends give unique ascending UIDs and exact counters, on
// FerretDB too.
func TestTwoInstancesDBLock(t *testing.T) {
	a := open(t)
	ls := lockersOn(t, a, 2)
	a1 := reopen(t, a, ls[0])
	b := reopen(t, a, ls[1])
	appendFromBoth(t, a1, b)
}
