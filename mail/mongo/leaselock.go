package mongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// DBLocker is a Locker kept in the database itself (collection "locks"),
// so the store's writes need nothing but the database: every instance
// sharing the database shares the locks, with or without Redis.
//
// A lock is one lease document {_id: key, owner, expires}. Taking it is a
// single insert: the unique _id makes the insert of a held key fail with
// a duplicate key error, atomically on MongoDB and on FerretDB (whose
// PostgreSQL table has a unique index on _id; TestDBLockerExclusive proves
// it under concurrency). Releasing it deletes the document by _id and
// owner.
//
// Lease documents are never updated, because FerretDB's updates are not
// atomic under concurrency: a holder is bounded by writeTimeout instead
// (withUser runs its sequence under that deadline), and the lease lasts
// writeTimeout plus a margin for clock differences between instances
// (LeaseMargin). A holder that crashed leaves its lease until it expires;
// a waiter then takes it over in two steps that stay correct without
// atomic updates: it first inserts a claim document whose _id names the
// expired lease (key + owner + a slot number that grows by one per lease
// period since the expiry), so exactly one waiter wins the takeover (per
// slot: should the winner die before finishing, the next slot opens one
// lease period later); the winner deletes the expired lease and competes
// for the key with a plain insert again. Claims are kept (one per
// takeover, i.e. per crashed holder; a TTL index removes them after an
// hour on MongoDB): deleting them at once could let a waiter that read
// the old lease late claim it a second time.
type DBLocker struct {
	coll  *mongo.Collection
	lease time.Duration
	log   *slog.Logger
	// local queues this process's waiters for a key, so that only one of
	// them at a time competes (and polls) for the database lease.
	local *LocalLocker
	// RetryMin and RetryMax bound the wait between attempts on a held
	// lock (defaults 1ms and 10ms, doubling).
	RetryMin, RetryMax time.Duration
}

// LeaseMargin is added to writeTimeout to give a lock's lease: the time
// a holder may take beyond its deadline plus the clock difference between
// instances that the lease tolerates.
const LeaseMargin = 15 * time.Second

// NewDBLocker returns the lock of the database db (collection "locks").
func NewDBLocker(db *mongo.Database, log *slog.Logger) *DBLocker {
	if log == nil {
		log = slog.Default()
	}
	return &DBLocker{coll: db.Collection("locks"), lease: writeTimeout + LeaseMargin, log: log, local: NewLocalLocker(),
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond}
}

// lockDoc is a lease (or, with Claim set, a takeover claim).
type lockDoc struct {
	Key     string        `bson:"_id"`
	Owner   string        `bson:"owner"`
	Expires bson.DateTime `bson:"expires"`
	Claim   bool          `bson:"claim,omitempty"`
}

// Lock implements Locker: it waits until it holds key or ctx ends. This
// process's waiters queue in memory first; the head of the queue takes
// the database lease.
func (l *DBLocker) Lock(ctx context.Context, key string) (func(), error) {
	unlockLocal, err := l.local.Lock(ctx, key)
	if err != nil {
		return nil, err
	}
	wait := l.RetryMin
	for {
		unlock, err := l.tryLock(ctx, key)
		if err == nil {
			return func() { unlock(); unlockLocal() }, nil
		}
		if !errors.Is(err, errHeld) {
			unlockLocal()
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			unlockLocal()
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		}
		wait = min(wait*2, l.RetryMax)
	}
}

var errHeld = errors.New("lock held")

// lockOpTimeout bounds one attempt on the database (and an unlock).
const lockOpTimeout = 10 * time.Second

// tryLock makes one attempt, taking over an expired lease on the way; it
// returns errHeld while another holder's lease runs.
//
// The attempt is not cut by the caller's cancellation (ctx is checked
// between attempts, in Lock): an insert abandoned in flight may still
// commit on the server and leave a lease that nobody releases. An insert
// that fails otherwise is undone by owner, in case it committed.
func (l *DBLocker) tryLock(ctx context.Context, key string) (func(), error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockOpTimeout)
	defer cancel()
	owner := newID() + newID()
	for range 3 {
		taken := time.Now()
		_, err := l.coll.InsertOne(ctx, lockDoc{Key: key, Owner: owner, Expires: bson.NewDateTimeFromTime(taken.Add(l.lease))})
		if err == nil {
			return l.unlockFunc(key, owner, taken), nil
		}
		if !isDup(err) {
			l.unlockFunc(key, owner, taken)()
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		var cur lockDoc
		err = l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&cur)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // released in between: try again at once
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", key, err)
		}
		if time.Now().Before(cur.Expires.Time()) {
			return nil, errHeld
		}
		// The lease expired (its holder crashed or overran): claim the
		// takeover; only the claim's winner deletes the lease. A new
		// claim slot opens every lease period after the expiry, so a
		// winner that died before deleting the lease blocks the key for
		// one more period, not forever.
		slot := int64(time.Since(cur.Expires.Time()) / l.lease)
		_, err = l.coll.InsertOne(ctx, lockDoc{Key: fmt.Sprintf("takeover:%s:%s:%d", key, cur.Owner, slot), Owner: owner,
			Expires: bson.NewDateTimeFromTime(time.Now()), Claim: true})
		if isDup(err) {
			return nil, errHeld // another waiter took it over
		}
		if err != nil {
			return nil, fmt.Errorf("lock %s: takeover: %w", key, err)
		}
		l.log.Warn("mongo: lock lease expired: taken over", "key", key, "expired_owner", cur.Owner,
			"expired_at", cur.Expires.Time())
		if _, err := l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: cur.Owner}}); err != nil {
			return nil, fmt.Errorf("lock %s: takeover: %w", key, err)
		}
	}
	return nil, errHeld
}

// unlockFunc deletes the lease if it is still ours. A holder past its
// lease may have been taken over: that is logged, and the delete (by
// owner) leaves the new holder's lease alone.
func (l *DBLocker) unlockFunc(key, owner string, taken time.Time) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			if held := time.Since(taken); held > l.lease {
				l.log.Error("mongo: lock held past its lease (another instance may have taken it over)", "key", key, "held", held)
			}
			ctx, cancel := context.WithTimeout(context.Background(), lockOpTimeout)
			defer cancel()
			if _, err := l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "owner", Value: owner}}); err != nil {
				l.log.Warn("mongo: unlock failed: the lease expires by itself", "key", key, "err", err)
			}
		})
	}
}
