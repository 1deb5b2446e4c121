package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// The background full-text indexer.
//
// An append does not index its text: it stores the cleaned text in
// fts_text and queues the message's number in fts_pending, in its own
// transaction (appendWrite). Splitting the text into words and FTS5's
// segment writes and merges happen here, one goroutine per Store, in
// batches: one transaction indexes up to indexBatchRows queued messages
// and adds their words to fts_words. Larger batches also make FTS5 cheaper
// per message (one segment flush per batch instead of one per group
// commit). The indexer waits indexDelay after being woken, and yields to
// waiting writes while the queue is short (indexMaxLag, indexMaxLagBytes).
//
// Two indexes (migration 0009): a text of under Store.bagMin bytes goes
// into fts, every word with its positions, so phrases are matched by the
// index; a larger one goes into fts_bag as the set of its distinct words,
// per column, with no positions. A 200 KB text of prose holds about 33,000
// words but only a few thousand distinct ones: the set is what costs FTS5
// its tokenizing and segment writes, and it is built here anyway, for
// fts_words. Search matches several words in fts_bag by AND and checks the
// stored text (fulltext.go).
//
// Durable state: a row in fts_pending is a message not yet indexed. The
// indexer starts at Open with whatever the queue holds (left by a crash or
// by Close), so it resumes after a restart; its transactions commit with
// synchronous=NORMAL, since a lost indexer commit only leaves its rows in
// the queue, to be indexed again.
//
// Search stays exact meanwhile: every full-text condition also checks the
// text of the queued messages with eider_contains and eider_header, the
// same substring semantics the index is checked against (fulltext.go), in
// the same snapshot as the index, and a batch moves messages from the
// queue to an index in one transaction, so a message is always in exactly
// one of the three.

// indexBatchRows and indexBatchBytes bound one indexer transaction, which
// holds the writer lock: appends wait for it. The bytes are those FTS5
// tokenizes: a text indexed as a word set counts for 1/bagShare of its
// size (a 200 KB text of prose has about 25 KB of distinct words), so a
// batch of large texts holds enough of them for its segment flush to be
// shared, as one of small texts does.
const (
	indexBatchRows  = 256
	indexBatchBytes = 1 << 20
	bagShare        = 8
)

// indexMaxLag, indexMaxLagBytes: while writes are waiting for the writer,
// the indexer lets them go first, as long as fewer than indexMaxLag
// messages and indexMaxLagBytes of text are queued; beyond that it indexes
// regardless, so that the queue, which every full-text search scans, stays
// bounded.
const (
	indexMaxLag      = 1000
	indexMaxLagBytes = 16 << 20
)

// indexRetry is how long the indexer waits after a failed batch.
const indexRetry = 5 * time.Second

// indexDelay is how long the indexer lets new messages accumulate after
// being woken, so that a batch holds many of them: indexed one by one, as
// they arrive, a message costs FTS5 a segment flush and a share of the
// merges of its own, and the indexer would take the writer lock between
// every two appends. Search does not wait for it (it scans the queue).
const indexDelay = 200 * time.Millisecond

type indexer struct {
	wake   chan struct{} // buffered (1): there may be rows to index
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has ended
	// mu is held while a batch runs; pause takes it to wait for the
	// running batch.
	mu     sync.Mutex
	paused atomic.Bool
	// batches counts committed batches (tests and benchmarks).
	batches atomic.Int64
	// all, one: word sets reused by indexBatch (guarded by mu).
	all, one *wordSet
}

// kick tells the indexer there may be new rows. It never blocks. A nil
// indexer (a Store being opened) ignores it.
func (ix *indexer) kick() {
	if ix == nil {
		return
	}
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// startIndexer starts s's indexer goroutine; it indexes what is queued
// right away.
func (s *Store) startIndexer() {
	ctx, cancel := context.WithCancel(context.Background())
	s.ix = &indexer{wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	s.ix.kick()
	go s.runIndexer(ctx)
}

// stopIndexer stops the indexer and waits for it; a batch in flight is
// rolled back and its rows stay queued.
func (s *Store) stopIndexer() {
	if s.ix == nil {
		return
	}
	s.ix.cancel()
	<-s.ix.done
}

func (s *Store) runIndexer(ctx context.Context) {
	defer close(s.ix.done)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ix.wake:
		case <-retry:
		}
		retry = nil
		select {
		case <-ctx.Done():
			return
		case <-time.After(indexDelay):
		}
		for !s.ix.paused.Load() {
			if s.writesWaiting() {
				if n, size, err := s.pendingSize(ctx); err == nil && n < indexMaxLag && size < indexMaxLagBytes {
					select { // yield to the deliveries
					case <-ctx.Done():
						return
					case <-time.After(indexDelay):
					}
					continue
				}
			}
			n, err := s.indexBatch(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				slog.Error("full-text indexer", "err", err)
				retry = time.After(indexRetry)
				break
			}
			if n == 0 {
				break
			}
		}
	}
}

// writesWaiting reports whether a group commit is running or queued.
func (s *Store) writesWaiting() bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return s.leading || len(s.queue) > 0
}

// pauseIndexer stops the indexer from starting batches and waits for the
// one running, if any (tests: messages appended meanwhile stay queued).
func (s *Store) pauseIndexer() {
	s.ix.paused.Store(true)
	s.ix.mu.Lock()
	s.ix.mu.Unlock() //nolint:staticcheck // waits for the running batch
}

// resumeIndexer undoes pauseIndexer.
func (s *Store) resumeIndexer() {
	s.ix.paused.Store(false)
	s.ix.kick()
}

// IndexPending indexes every queued message now, in the caller's goroutine
// (for `eider check` and tests). It returns how many it indexed.
func (s *Store) IndexPending(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.indexBatch(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// IndexQueue returns how many stored messages wait for the full-text
// indexer (GET /metrics: eider_index_queue). Search is exact meanwhile (it
// scans them), but each one makes full-text searches slower.
func (s *Store) IndexQueue(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM fts_pending`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: pending full-text rows: %w", err)
	}
	return n, nil
}

// pendingSize returns how many messages wait for the indexer and the bytes
// of their text (octet_length reads the row headers only, not the text).
func (s *Store) pendingSize(ctx context.Context) (n, size int64, err error) {
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(octet_length(t.headers) + octet_length(t.body)), 0)
		FROM fts_pending q CROSS JOIN fts_text t ON t.mno = q.mno`).Scan(&n, &size); err != nil {
		return 0, 0, fmt.Errorf("sqlite: pending full-text rows: %w", err)
	}
	return n, size, nil
}

// queuedRow is a queued message read by indexBatch, with its text.
type queuedRow struct {
	mno           int64
	headers, body string
	// bag: the text is large (bagMin); headerWords and bodyWords are then
	// its distinct words, space-separated, for fts_bag.
	bag                    bool
	headerWords, bodyWords string
}

// DefaultIndexBagMin is the default of Config.IndexBagMin: texts of this
// many bytes or more are indexed as word sets (fts_bag).
const DefaultIndexBagMin = 32 << 10

// indexBatch indexes up to indexBatchRows of the oldest queued rows in one
// transaction and returns how many it indexed.
//
// The rows are read and split into words before the writer lock is taken.
// In the transaction each message leaves the queue only if it is still
// there with the same text (an mno can be reused after its message is
// deleted: the words split would then belong to another text); the words
// go into fts_words first, then the messages into fts or fts_bag, all FTS
// writes last (FTS5 flushes its pending index at each statement savepoint
// that follows an FTS write). The word list therefore holds every word of
// both indexes, as search needs.
func (s *Store) indexBatch(ctx context.Context) (int, error) {
	s.ix.mu.Lock()
	defer s.ix.mu.Unlock()
	rows, err := s.r.QueryContext(ctx, `SELECT q.mno, t.headers, t.body FROM fts_pending q CROSS JOIN fts_text t ON t.mno = q.mno
		ORDER BY q.mno LIMIT ?`, indexBatchRows)
	if err != nil {
		return 0, fmt.Errorf("sqlite: index: read queue: %w", err)
	}
	var batch []queuedRow
	size := 0
	for rows.Next() && size < indexBatchBytes {
		var r queuedRow
		if err := rows.Scan(&r.mno, &r.headers, &r.body); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sqlite: index: read queue: %w", err)
		}
		batch = append(batch, r)
		if n := len(r.headers) + len(r.body); n < s.bagMin {
			size += n
		} else {
			size += n / bagShare
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("sqlite: index: read queue: %w", err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	// all collects the batch's words for fts_words; one the words of one
	// large text, for fts_bag. Both are reused across batches (ix.mu).
	if s.ix.all == nil {
		s.ix.all, s.ix.one = newWordSet(), newWordSet()
	}
	all, one := s.ix.all, s.ix.one
	all.reset()
	for i := range batch {
		r := &batch[i]
		if len(r.headers)+len(r.body) < s.bagMin {
			all.addText(r.headers)
			all.addText(r.body)
			continue
		}
		r.bag = true
		one.reset()
		one.addText(r.headers)
		r.headerWords = one.String()
		one.reset()
		one.addText(r.body)
		r.bodyWords = one.String()
		all.addText(r.headerWords)
		all.addText(r.bodyWords)
	}
	words := make([]string, 0, len(all.ents))
	all.each(func(w string) { words = append(words, w) })
	list, err := json.Marshal(words)
	if err != nil {
		return 0, fmt.Errorf("sqlite: index: word list: %w", err)
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	defer s.learnStmts(context.WithoutCancel(ctx))
	if err := s.setSync(ctx, false); err != nil {
		return 0, fmt.Errorf("sqlite: index: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: index: begin: %w", err)
	}
	defer tx.Rollback()
	t := &wtx{Tx: tx, s: s, ctx: ctx}
	kept := batch[:0]
	for _, r := range batch {
		// The message is dequeued only if its text is still the one split
		// above: an mno can be reused after its message is deleted.
		res, err := t.exec(`DELETE FROM fts_pending WHERE mno = ?
			AND EXISTS (SELECT 1 FROM fts_text WHERE mno = ? AND headers = ? AND body = ?)`, r.mno, r.mno, r.headers, r.body)
		if err != nil {
			return 0, fmt.Errorf("sqlite: index: dequeue: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("sqlite: index: dequeue: %w", err)
		} else if n == 1 {
			kept = append(kept, r)
		}
	}
	if _, err := t.exec(`INSERT OR IGNORE INTO fts_words(term) SELECT value FROM json_each(?)`, string(list)); err != nil {
		return 0, fmt.Errorf("sqlite: index: word list: %w", err)
	}
	for _, r := range kept {
		var err error
		if r.bag {
			_, err = t.exec(`INSERT INTO fts_bag(rowid, headers, body) VALUES (?, ?, ?)`, r.mno, r.headerWords, r.bodyWords)
		} else {
			_, err = t.exec(`INSERT INTO fts(rowid, headers, body) VALUES (?, ?, ?)`, r.mno, r.headers, r.body)
		}
		if err != nil {
			return 0, fmt.Errorf("sqlite: index: message %d: %w", r.mno, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: index: commit: %w", err)
	}
	s.ix.batches.Add(1)
	s.ck.kick()
	// A row dequeued by someone else (its message deleted) still counts:
	// the queue shrank, so the caller's loop makes progress.
	return len(batch), nil
}
