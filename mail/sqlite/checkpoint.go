package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Background WAL checkpoints.
//
// SQLite's default is for the connection that commits to copy the WAL back
// into the database file once the WAL holds 1000 pages (autocheckpoint):
// the writer connection, holding the store's only write lock, would then
// spend a checkpoint's copying and fsyncs inside some unlucky group commit,
// and every delivery queued behind it waits. For 200 KB messages that was
// two fifths of the writer's time. The writer therefore runs with
// wal_autocheckpoint=0, and a checkpointer goroutine with a connection of
// its own runs PASSIVE checkpoints, which copy what no reader still needs
// without blocking the writer or readers, at most every checkpointEvery
// while commits happen (kick).
//
// The WAL is rewound to its start by the first write after a checkpoint
// that copied all of it. Under sustained writes a checkpoint that runs
// beside the writer never finds the WAL complete (commits land while it
// copies), so the WAL would grow without end: once it holds more than
// walRewindFrames, the checkpointer copies the bulk unlocked, then takes
// the write lock for a second pass over the few frames committed
// meanwhile, which leaves the WAL fully copied for the next write.
//
// Durability is unchanged: a commit is durable once its WAL frames are
// (synchronous=FULL), whoever checkpoints them later; a checkpoint fsyncs
// the WAL before copying and the database file after.

// checkpointEvery is the longest time between two checkpoints while writes
// go on (the WAL grows by what is written in that time).
const checkpointEvery = 100 * time.Millisecond

// walRewindFrames is the WAL size (pages of 4 KB) beyond which the
// checkpointer makes sure the WAL is rewound (see above).
const walRewindFrames = 4096

type checkpointer struct {
	db     *sql.DB     // one connection, used by run only
	wlock  sync.Locker // the store's write lock (Store.wmu)
	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	// runs counts checkpoints run (tests).
	runs atomic.Int64
}

// startCheckpointer starts s's checkpointer on db (one connection).
func (s *Store) startCheckpointer(db *sql.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	s.ck = &checkpointer{db: db, wlock: &s.wmu, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go s.ck.run(ctx)
}

// kick tells the checkpointer a commit happened. It never blocks.
func (c *checkpointer) kick() {
	if c == nil {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			slog.Error("sqlite: checkpoint", "err", err)
		}
		select { // let the WAL grow for a while before the next one
		case <-ctx.Done():
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// checkpoint runs one PASSIVE checkpoint, and a second one under the write
// lock when the WAL has grown past walRewindFrames.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	logFrames, err := c.passive(ctx)
	if err != nil || logFrames <= walRewindFrames {
		return err
	}
	c.wlock.Lock()
	defer c.wlock.Unlock()
	_, err = c.passive(ctx)
	return err
}

// passive runs PRAGMA wal_checkpoint(PASSIVE) and returns the WAL's size
// in frames.
func (c *checkpointer) passive(ctx context.Context) (logFrames int64, err error) {
	var busy, copied int64
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
		return 0, fmt.Errorf("wal_checkpoint: %w", err)
	}
	c.runs.Add(1)
	return logFrames, nil
}

// stop ends the goroutine, waits for it and closes its connection.
func (c *checkpointer) stop() error {
	if c == nil {
		return nil
	}
	c.cancel()
	<-c.done
	return c.db.Close()
}
