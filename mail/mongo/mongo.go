// Package mongo implements store.Store on MongoDB (mongo-driver v2) for
// Eider's distributed mode, and blob.Store on GridFS (gridfs.go).
//
// It is written for a MongoDB ≥ 6.0 replica set and uses no multi-document
// transaction, so that it also runs on FerretDB 1.x (which has none):
//
//   - Every write of a user runs under that user's lock (Config.Locker:
//     in production the DBLocker, a lease document in the database's
//     "locks" collection shared by all instances and needing no Redis;
//     nil gives an in-process lock, for one instance). The lock orders a
//     user's journal entries in commit order and makes each
//     multi-document sequence (message, mailbox counters, storage_used,
//     journal) appear whole to the other writers.
//   - Inside that, every counter moves with a single-document atomic update:
//     UID and MODSEQ come from findOneAndUpdate + $inc on the mailbox
//     document, journal Seq from $inc on a counter document, blob reference
//     counts from $inc on the blob's document (under the global "blobs"
//     lock, which also covers deleting a blob whose count fell to zero).
//   - A unique {mbox, uid} index is the backstop: an insert that hits a
//     duplicate UID allocates again, so a duplicate UID is never stored.
//
// A process crash between two steps of a sequence can leave a counter off
// (CheckConsistency reports it; RecountQuota repairs storage_used); it never
// loses an acknowledged message.
//
// Journal entries carry their expiry (exp = write time + retention), which
// MongoDB's TTL index "expire" acts on; the user's newest Seq is kept on
// the user document (lastseq), so every entry may expire.
//
// FerretDB is detected through buildInfo (ferretdbFeatures). Its updates are
// not atomic under concurrency, so there the global counters (journal Seq,
// UIDVALIDITY) are also updated under a lock, and several instances are
// correct only with a shared lock (without it, concurrent writes lose
// counter updates; the unique index still prevents duplicate UIDs). The
// DBLocker relies only on the unique _id of an insert, which FerretDB
// enforces atomically (its PostgreSQL unique index). Index options it
// lacks (TTL) are not requested, and PruneJournal deletes expired entries
// instead; search runs in this process on every server. The degraded mode
// is logged once at open.
package mongo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readconcern"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// Locker serializes the writers of one key across every instance sharing
// the database. Lock blocks until the lock is held or ctx ends; the
// returned function releases it.
type Locker interface {
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// Config configures a Store.
type Config struct {
	// URI is the MongoDB connection string (mongodb://host/...).
	URI string
	// Database is the database name (default "eider").
	Database string
	// Locker serializes the writes of a user and blob reference changes.
	// Nil: an in-process lock, correct for a single instance only.
	Locker Locker
	// Logger receives the degraded-mode notices (default slog.Default()).
	Logger *slog.Logger
	// JournalRetention is how long journal entries live (default
	// DefaultJournalRetention): each entry's exp, which MongoDB's TTL
	// index acts on.
	JournalRetention time.Duration
}

// DefaultJournalRetention is Config.JournalRetention's default.
const DefaultJournalRetention = 7 * 24 * time.Hour

// Store is the MongoDB store.Store.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	blobs  blob.Store
	lock   Locker
	log    *slog.Logger
	ferret bool
	// retention is how long a journal entry lives (Config.JournalRetention).
	retention time.Duration
	users     *mongo.Collection
	addrs     *mongo.Collection
	mboxes    *mongo.Collection
	msgs      *mongo.Collection
	journal   *mongo.Collection
	ctrs      *mongo.Collection
	refs      *mongo.Collection
}

var _ store.Store = (*Store)(nil)

// Connect opens a client with the write and read concerns the store needs:
// majority writes with journaling (an acknowledged write survives a primary
// failover) and majority reads.
func Connect(ctx context.Context, uri string) (*mongo.Client, error) {
	if uri == "" {
		return nil, fmt.Errorf("mongo: connect: empty URI: %w", store.ErrInvalidInput)
	}
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetReadConcern(readconcern.Majority()).
		SetServerSelectionTimeout(10 * time.Second)
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: connect: %w", err)
	}
	if err := c.Ping(ctx, nil); err != nil {
		_ = c.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mongo: connect: ping: %w", err)
	}
	return c, nil
}

// IsFerretDB reports whether the server is FerretDB (its buildInfo carries
// ferretdbFeatures or ferretdbVersion).
func IsFerretDB(ctx context.Context, c *mongo.Client) (bool, error) {
	var bi bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&bi); err != nil {
		return false, fmt.Errorf("mongo: buildInfo: %w", err)
	}
	_, f1 := bi["ferretdbFeatures"]
	_, f2 := bi["ferretdbVersion"]
	return f1 || f2, nil
}

// Open connects, detects FerretDB, applies the migrations and returns the
// store. blobs holds message parts (normally the GridFS store of the same
// database, see NewGridFS).
func Open(ctx context.Context, cfg Config, blobs blob.Store) (*Store, error) {
	if blobs == nil {
		return nil, fmt.Errorf("mongo: open: nil blob store: %w", store.ErrInvalidInput)
	}
	c, err := Connect(ctx, cfg.URI)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, c, cfg, blobs)
	if err != nil {
		_ = c.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// New is Open on an existing client; Close disconnects it.
func New(ctx context.Context, c *mongo.Client, cfg Config, blobs blob.Store) (*Store, error) {
	dbName := cfg.Database
	if dbName == "" {
		dbName = "eider"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ferret, err := IsFerretDB(ctx, c)
	if err != nil {
		return nil, err
	}
	db := c.Database(dbName)
	s := &Store{
		client: c, db: db, blobs: blobs, lock: cfg.Locker, log: log, ferret: ferret,
		users: db.Collection("users"), addrs: db.Collection("addresses"), mboxes: db.Collection("mailboxes"),
		msgs: db.Collection("messages"), journal: db.Collection("journal"), ctrs: db.Collection("counters"),
		refs: db.Collection("blobrefs"), retention: cmp.Or(cfg.JournalRetention, DefaultJournalRetention),
	}
	if s.lock == nil {
		s.lock = NewLocalLocker()
		log.Info("mongo: no shared locker configured: user writes are serialized in this process only; run one instance or configure Redis")
	}
	if ferret {
		log.Warn("mongo: server is FerretDB: degraded mode",
			"atomicity", "updates are not atomic under concurrency; every user write runs under the user lock",
			"text_search", "no $text: search filters messages in this process",
			"journal_ttl", "no TTL index: the journal is pruned by PruneJournal (hourly in eider serve)")
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// FerretDB reports whether the server was detected as FerretDB.
func (s *Store) FerretDB() bool { return s.ferret }

// Database returns the database the store uses.
func (s *Store) Database() *mongo.Database { return s.db }

// Close disconnects the client.
func (s *Store) Close() error {
	if err := s.client.Disconnect(context.Background()); err != nil {
		return fmt.Errorf("mongo: close: %w", err)
	}
	return nil
}

// LocalLocker is an in-process Locker (one instance).
type LocalLocker struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// NewLocalLocker returns an empty LocalLocker.
func NewLocalLocker() *LocalLocker { return &LocalLocker{locks: map[string]chan struct{}{}} }

// Lock implements Locker: it waits for key to be free or ctx to end.
func (l *LocalLocker) Lock(ctx context.Context, key string) (func(), error) {
	for {
		l.mu.Lock()
		ch, held := l.locks[key]
		if !held {
			ch = make(chan struct{})
			l.locks[key] = ch
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.locks, key)
					l.mu.Unlock()
					close(ch)
				})
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", key, ctx.Err())
		}
	}
}

// writeTimeout bounds one write sequence once its lock is held.
const writeTimeout = 30 * time.Second

// withUser runs fn holding the user's write lock. Errors are wrapped as
// "mongo: op: ...", keeping store sentinels for errors.Is.
//
// fn gets a context detached from the caller's cancellation (bounded by
// writeTimeout): without transactions, a sequence cut in the middle by a
// client hanging up would leave counters off, so once the lock is held
// the sequence runs to its end.
func (s *Store) withUser(ctx context.Context, op, userID string, fn func(ctx context.Context) error) error {
	unlock, err := s.lock.Lock(ctx, "user:"+userID)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	defer unlock()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if err := fn(wctx); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	return nil
}

// newID returns a 24-hex-character ID: 4 bytes of Unix time then 8 random
// bytes, so IDs sort roughly by creation time (like ObjectIDs).
func newID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	_, _ = rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}

func nowNano() int64 { return time.Now().UnixNano() }

func fromNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// isDup reports a duplicate key error (a unique index refused a write).
func isDup(err error) bool { return mongo.IsDuplicateKeyError(err) }

// notFound maps "no document" to store.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

func invalid(err error) error {
	return fmt.Errorf("%w: %w", store.ErrInvalidInput, err)
}

// nextCounter atomically increments the named counter document by n and
// returns the new value.
func (s *Store) nextCounter(ctx context.Context, name string, n int64) (int64, error) {
	var doc struct {
		N int64 `bson:"n"`
	}
	err := s.ctrs.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: name}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: n}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&doc)
	if err != nil {
		return 0, fmt.Errorf("counter %s: %w", name, err)
	}
	return doc.N, nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// counterLock serializes the updates of a global counter document on
// FerretDB, whose $inc is not atomic under concurrency; on MongoDB the
// single-document update is atomic and no lock is taken.
func (s *Store) counterLock(ctx context.Context, name string) (func(), error) {
	if !s.ferret {
		return func() {}, nil
	}
	return s.lock.Lock(ctx, "counter:"+name)
}
