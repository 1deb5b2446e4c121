// Package sqlite implements store.Store on SQLite (modernc.org/sqlite, no
// cgo) for Eider's embedded mode.
//
// Concurrency model: every write runs in one BEGIN IMMEDIATE transaction on
// a dedicated single-connection *sql.DB, serialized by Store.wmu, so UID,
// MODSEQ and journal Seq allocation are race-free; reads use a separate pool
// of read-only connections that see committed WAL snapshots. Blob files whose
// last reference was dropped are deleted after the commit, still under wmu,
// so no other transaction can take a new reference in between. Appends,
// StoreFlags, Expunge and Delete queued concurrently share one transaction
// and one commit (group commit, see enqueue); each still returns only after
// the commit holding its writes.
package sqlite

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/migrations"

	sqlite "modernc.org/sqlite"
)

// Config configures a Store.
type Config struct {
	// Path of the database file (created if missing).
	Path string
	// Sync is "full" (default: every commit is fsynced before it returns)
	// or "normal" (WAL commits may be lost on power failure, never on a
	// process crash).
	Sync string
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// MaxWordExpansion caps how many indexed words one piece of a search
	// string may expand to (default DefaultMaxWordExpansion); a piece
	// beyond it is answered by checking stored text instead (fulltext.go).
	MaxWordExpansion int
	// IndexBagMin: a message whose text (headers and body) has this many
	// bytes or more is indexed as the set of its distinct words (fts_bag,
	// see indexer.go); 0 means DefaultIndexBagMin, 1 puts every message
	// there (tests).
	IndexBagMin int
	// RefsCache is how many message refs (about 100 bytes each) the
	// listing cache of large mailboxes may hold (refs.go); 0 means
	// DefaultRefsCache, negative disables it.
	RefsCache int
}

// Store is the SQLite store.Store.
type Store struct {
	w     *sql.DB   // single writer connection
	r     *readPool // read pool
	blobs blob.Store
	wmu   sync.Mutex
	// stmts caches statements prepared on w. They are prepared on the
	// *sql.DB, not on a *sql.Conn: database/sql re-prepares a Conn's
	// statement on every Tx.Stmt, but reuses a DB statement on the
	// connection that already has it (w has exactly one). A statement first
	// seen inside a transaction is prepared for that transaction only and
	// recorded in missed; learnStmts prepares it on w once the transaction
	// has ended (w's one connection is busy until then). Guarded by wmu.
	stmts  map[string]*sql.Stmt
	missed map[string]bool

	// qmu guards queue, writes waiting for a group commit, and leading,
	// true while a caller runs the groups (enqueue).
	qmu     sync.Mutex
	queue   []*appendReq
	leading bool
	// soloWrites makes StoreFlags, Expunge and Delete run one transaction
	// each, as before group commit; set by benchmarks only, for comparison.
	soloWrites bool
	// groups counts group transactions committed (runGroup); read by
	// benchmarks to report writes per commit.
	groups atomic.Int64

	ck        *checkpointer // checkpoint.go
	maxExpand int           // Config.MaxWordExpansion
	bagMin    int           // Config.IndexBagMin

	// fullSync is Config.Sync "full"; curSync is the writer connection's
	// synchronous setting now (guarded by wmu), see setSync.
	fullSync bool
	curSync  string

	ix *indexer // the background full-text indexer (indexer.go)

	refs *refsCache // listings of large mailboxes (refs.go)

	mnos mnoCache // mno→UID maps of large mailboxes for search (search_mno.go)
}

var _ store.Store = (*Store)(nil)

func init() {
	// Custom SQL functions used by search (see search.go).
	sqlite.MustRegisterDeterministicScalarFunction("eider_contains", 2, sqlContains)
	sqlite.MustRegisterDeterministicScalarFunction("eider_header", 3, sqlHeader)
}

// Open opens (creating and migrating if needed) the database at cfg.Path.
// blobs holds the message parts referenced by Segment.Hash.
func Open(ctx context.Context, cfg Config, blobs blob.Store) (*Store, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("sqlite: open: empty path: %w", store.ErrInvalidInput)
	}
	if blobs == nil {
		return nil, fmt.Errorf("sqlite: open: nil blob store: %w", store.ErrInvalidInput)
	}
	if cfg.IndexBagMin < 0 {
		return nil, fmt.Errorf("sqlite: open: IndexBagMin %d < 0: %w", cfg.IndexBagMin, store.ErrInvalidInput)
	}
	if cfg.MaxWordExpansion < 0 {
		return nil, fmt.Errorf("sqlite: open: MaxWordExpansion %d < 0: %w", cfg.MaxWordExpansion, store.ErrInvalidInput)
	}
	syncMode := "FULL"
	switch strings.ToLower(cfg.Sync) {
	case "", "full":
	case "normal":
		syncMode = "NORMAL"
	default:
		return nil, fmt.Errorf("sqlite: open: sync %q: want full or normal: %w", cfg.Sync, store.ErrInvalidInput)
	}
	common := []string{
		"busy_timeout(10000)",
		"foreign_keys(1)",
		"synchronous(" + syncMode + ")",
		"temp_store(MEMORY)",
		"mmap_size(1073741824)",
	}
	dsn := func(extra []string, txlock string) string {
		q := url.Values{}
		// journal_mode first: it is persistent and must precede the rest.
		q.Add("_pragma", "journal_mode(WAL)")
		for _, p := range append(common, extra...) {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", txlock)
		return "file:" + cfg.Path + "?" + q.Encode()
	}
	// The writer never checkpoints: the checkpointer does (checkpoint.go).
	w, err := sql.Open("sqlite", dsn([]string{"cache_size(-65536)", "wal_autocheckpoint(0)"}, "immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	n := cfg.ReadConns
	if n <= 0 {
		n = 4
	}
	r, err := sql.Open("sqlite", dsn([]string{"cache_size(-32768)", "query_only(1)"}, "deferred"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	ck, err := sql.Open("sqlite", dsn([]string{"cache_size(-2048)"}, "deferred"))
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	ck.SetConnMaxIdleTime(0)
	s := &Store{w: w, r: newReadPool(r), blobs: blobs, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{},
		maxExpand: cmp.Or(cfg.MaxWordExpansion, DefaultMaxWordExpansion),
		bagMin:    cmp.Or(cfg.IndexBagMin, DefaultIndexBagMin),
		refs:      newRefsCache(cmp.Or(cfg.RefsCache, DefaultRefsCache)),
		fullSync:  syncMode == "FULL", curSync: syncMode}
	s.startCheckpointer(ck)
	s.startIndexer()
	return s, nil
}

// Close closes the database. (Journal pruning is the caller's schedule:
// `eider serve` calls PruneJournal hourly, whatever the backend.)
func (s *Store) Close() error {
	s.stopIndexer()
	s.wmu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
	s.wmu.Unlock()
	err := errors.Join(s.ck.stop(), s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// migrate applies the embedded migrations above the recorded version.
func migrate(ctx context.Context, db *sql.DB) error {
	return migrateTo(ctx, db, math.MaxInt)
}

// migrateTo applies the embedded migrations above the recorded version, up
// to version upTo (tests build old stores with it).
func migrateTo(ctx context.Context, db *sql.DB, upTo int) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	var cur int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	ents, err := fs.ReadDir(migrations.SQLite, "sqlite")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	type mig struct {
		v    int
		name string
	}
	var ms []mig
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return fmt.Errorf("sqlite: migrate: bad migration file name %q", e.Name())
		}
		ms = append(ms, mig{v, e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].v < ms[j].v })
	for _, m := range ms {
		if m.v <= cur || m.v > upTo {
			continue
		}
		body, err := fs.ReadFile(migrations.SQLite, path.Join("sqlite", m.name))
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version, applied) VALUES (?, ?)`, m.v, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.name, err)
		}
	}
	return nil
}

// newID returns a 24-hex-character ID: 4 bytes of Unix time then 8 random
// bytes, so IDs sort roughly by creation time (like MongoDB ObjectIDs).
func newID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(time.Now().Unix()))
	rand.Read(b[4:])
	return hex.EncodeToString(b[:])
}

// wtx is a write transaction. drop collects blob hashes whose last
// reference the transaction removed; they are deleted after commit.
// maxStmts bounds the writer's statement cache.
const maxStmts = 256

type wtx struct {
	*sql.Tx
	s    *Store
	ctx  context.Context
	drop []string
}

// stmt returns the writer connection's prepared statement for q, bound to
// the transaction. Statements are prepared once per Store (the writer has
// exactly one connection, so they are never re-prepared).
func (t *wtx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.s.stmts[q]; ok {
		return t.StmtContext(t.ctx, st), nil
	}
	// Query text built from variable input (UID sets, IN lists) would fill
	// the cache: past maxStmts, statements are prepared per use only.
	if len(t.s.stmts)+len(t.s.missed) < maxStmts {
		t.s.missed[q] = true
	}
	return t.PrepareContext(t.ctx, q) // closed with the transaction
}

// learnStmts prepares on w the statements first seen in the transaction
// that just ended. wmu is held and no transaction is open. A failure only
// means the statement is prepared per use again next time.
func (s *Store) learnStmts(ctx context.Context) {
	for q := range s.missed {
		if st, err := s.w.PrepareContext(ctx, q); err == nil {
			s.stmts[q] = st
		}
		delete(s.missed, q)
	}
}

func (t *wtx) exec(q string, args ...any) (sql.Result, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *wtx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

// row is QueryRow through the statement cache. A preparation error is
// reported by Scan.
func (t *wtx) row(q string, args ...any) *sql.Row {
	st, err := t.stmt(q)
	if err != nil {
		return t.Tx.QueryRowContext(t.ctx, q, args...) // reports the same error
	}
	return st.QueryRowContext(t.ctx, args...)
}

// ExecContext, QueryContext and QueryRowContext make a wtx a querier whose
// statements come from the cache too (helpers such as mailboxNo and userNo
// take a querier; through the embedded *sql.Tx they would parse their SQL
// on every call). The transaction's context is used.
func (t *wtx) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	return t.exec(q, args...)
}

func (t *wtx) QueryContext(_ context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.query(q, args...)
}

func (t *wtx) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	return t.row(q, args...)
}

// update runs fn in one write transaction and commits it. Errors are
// wrapped as "sqlite: op: ...", keeping store sentinels for errors.Is.
func (s *Store) update(ctx context.Context, op string, fn func(t *wtx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer s.learnStmts(context.WithoutCancel(ctx))
	if err := s.setSync(ctx, true); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", op, err)
	}
	t := &wtx{Tx: tx, s: s, ctx: ctx}
	if err := fn(t); err != nil {
		tx.Rollback()
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", op, err)
	}
	// Still under wmu: no transaction can re-reference these hashes before
	// the files are gone. A failed delete leaves an orphan file, which
	// CheckConsistency reports; it is never a dangling reference.
	dctx := context.WithoutCancel(ctx)
	for _, h := range t.drop {
		_ = s.blobs.Delete(dctx, h)
	}
	s.ix.kick() // a copy may have queued text for the indexer
	s.ck.kick()
	return nil
}

// setSync sets the writer connection's synchronous mode for the next
// transaction; wmu is held and no transaction is open. durable
// transactions (any that acknowledges new messages: appends, copies,
// user and mailbox changes) commit with FULL — the WAL is fsynced before
// the commit returns — when Config.Sync is "full". The others (groups of
// flag changes and expunges, the indexer) commit with NORMAL: no fsync, so
// a power failure may lose them, never a process crash. WAL frames are
// written in commit order and a FULL commit fsyncs the whole WAL file, so
// it also persists every NORMAL commit before it: a durable commit never
// depends on a lost earlier one. (Dovecot does not fsync its index updates
// either.)
func (s *Store) setSync(ctx context.Context, durable bool) error {
	want := "NORMAL"
	if durable && s.fullSync {
		want = "FULL"
	}
	if want == s.curSync {
		return nil
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA synchronous = "+want); err != nil {
		return fmt.Errorf("synchronous=%s: %w", want, err)
	}
	s.curSync = want
	return nil
}

func nowNano() int64 { return time.Now().UnixNano() }

func fromNano(n int64) time.Time { return time.Unix(0, n).UTC() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
