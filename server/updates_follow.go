package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/eidermail/eider/mail/bus"
)

// followerHub holds one journal follower per user with live streams on
// this instance. Its zero value is ready to use.
type followerHub struct {
	mu sync.Mutex
	m  map[string]*follower
}

// follower reads one user's journal once per bus beacon and fans the events
// out to the queues of the streams that joined it, so that N streams of one
// user cost one bus subscription and one journal read per change instead of
// N.
//
// Invariants (all under mu):
//   - cursor is the last journal entry fanned out; it is meaningful only
//     while members is not empty (a join into an empty follower sets it to
//     the joining stream's cursor).
//   - every member's stream cursor is >= cursor at join time and is
//     advanced by the follower to each entry it hands over, so a member sees
//     every entry after its join cursor exactly once, in order.
//   - the follower never blocks on a member: a member whose queue is full is
//     detached (its cursor is the last entry it got) and catches up from the
//     journal itself, where a queue full for WriteTimeout ends it (1013).
type follower struct {
	h      *Handlers
	hub    *followerHub
	userID string
	refs   int                // guarded by followerHub.mu
	cancel context.CancelFunc // stops run; set at creation, before anyone else sees f

	init    chan struct{} // closed once the bus subscription is made (or failed)
	initErr error         // set before init is closed
	kick    chan struct{} // capacity 1: a join asks for a journal read

	mu      sync.Mutex
	cursor  int64
	members map[*stream]struct{}
	dead    error // set when the bus subscription ended; join then fails
}

// acquire returns the follower of userID, creating and subscribing it if
// needed. Every successful acquire must be paired with release.
func (hub *followerHub) acquire(ctx context.Context, h *Handlers, userID string) (*follower, error) {
	var fctx context.Context
	var cancel context.CancelFunc
	hub.mu.Lock()
	f := hub.m[userID]
	creator := f == nil
	if creator {
		if hub.m == nil {
			hub.m = map[string]*follower{}
		}
		f = &follower{h: h, hub: hub, userID: userID, init: make(chan struct{}), kick: make(chan struct{}, 1),
			members: map[*stream]struct{}{}}
		// The follower outlives the request that created it: it ends with
		// its last stream (release).
		fctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		f.cancel = cancel
		hub.m[userID] = f
	}
	f.refs++
	hub.mu.Unlock()

	if creator {
		beacons, unsub, err := h.svc.Bus.Subscribe(fctx, userID)
		if err != nil {
			f.initErr = fmt.Errorf("updates: subscribe: %w", err)
			cancel()
			hub.forget(f) // the next stream tries again
		} else {
			go func() {
				defer unsub()
				f.run(fctx, beacons)
			}()
		}
		close(f.init)
	} else {
		select {
		case <-f.init:
		case <-ctx.Done():
			hub.release(f)
			return nil, ctx.Err()
		}
	}
	if f.initErr != nil {
		hub.release(f)
		return nil, f.initErr
	}
	return f, nil
}

// release drops one reference; the last one stops the follower.
func (hub *followerHub) release(f *follower) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if f.refs--; f.refs > 0 {
		return
	}
	if hub.m[f.userID] == f {
		delete(hub.m, f.userID)
	}
	f.cancel()
}

// forget removes f from the hub if it is still the user's follower; its
// remaining references are released as usual.
func (hub *followerHub) forget(f *follower) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.m[f.userID] == f {
		delete(hub.m, f.userID)
	}
}

// join adds s as a member when its cursor has reached the follower's;
// false means s must read the journal further first. A nil error with true
// hands s.cursor to the follower until s.detached is closed.
func (f *follower) join(s *stream) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead != nil {
		return false, f.dead
	}
	if len(f.members) == 0 {
		f.cursor = s.cursor
	} else if s.cursor < f.cursor {
		return false, nil
	}
	s.detached = make(chan struct{})
	s.detachErr = nil
	f.members[s] = struct{}{}
	// A beacon may have been consumed while s was catching up: read once.
	select {
	case f.kick <- struct{}{}:
	default:
	}
	return true, nil
}

// leave removes s if it is still a member; afterwards the follower no longer
// touches s.
func (f *follower) leave(s *stream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.members[s]; ok {
		delete(f.members, s)
		close(s.detached)
	}
}

// detachLocked hands s back to its own goroutine with err (nil: too slow
// for the shared fan-out, catch up alone). f.mu must be held.
func (f *follower) detachLocked(s *stream, err error) {
	delete(f.members, s)
	s.detachErr = err
	close(s.detached)
}

// run reads the journal on each beacon or join until ctx ends. A bus
// subscription that closes kills the follower: its members end with an
// error and new joins fail, so their clients reconnect.
func (f *follower) run(ctx context.Context, beacons <-chan bus.Beacon) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-beacons:
			if !ok {
				f.mu.Lock()
				f.dead = errors.New("bus subscription closed")
				for s := range f.members {
					f.detachLocked(s, f.dead)
				}
				f.mu.Unlock()
				f.hub.forget(f) // the next stream of the user subscribes anew
				return
			}
		case <-f.kick:
		}
		if err := f.fanOut(ctx); err != nil && ctx.Err() == nil {
			f.mu.Lock()
			for s := range f.members {
				f.detachLocked(s, err)
			}
			f.mu.Unlock()
		}
	}
}

// fanOut reads the journal after the cursor, one page at a time and outside
// the lock, and queues each page's events to every member. A page read from
// a cursor that a join has since reset is read again.
//
// A page goes out in two steps: first the events of its entries, then the
// counter and quota events (events.Derived), which need store reads; so the
// entries' events are on their way to the clients while those reads run.
// The derived events go to the members that got the page's last entry and
// have not moved on; one whose queue has no room for them is detached
// (it misses this snapshot of the counters, not a change).
func (f *follower) fanOut(ctx context.Context) error {
	for {
		f.mu.Lock()
		if len(f.members) == 0 {
			f.mu.Unlock()
			return nil
		}
		from := f.cursor
		f.mu.Unlock()
		got, err := f.h.svc.Store.Changes(ctx, f.userID, "", from, replayPage)
		if err != nil {
			return fmt.Errorf("updates: journal: %w", err)
		}
		groups, err := f.h.entriesOf(ctx, f.userID, got)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if f.cursor != from {
			f.mu.Unlock()
			continue
		}
		var served []*stream // members handed the page's last entry
		for i, g := range groups {
			lastOfPage := i == len(groups)-1
			for s := range f.members {
				if g.seq <= s.cursor {
					continue // s read it itself before joining
				}
				// A group goes to a member whole or not at all, so that a
				// detached member re-reading from its cursor duplicates
				// nothing.
				if len(g.events) > cap(s.queue)-len(s.queue) {
					f.detachLocked(s, nil) // catches up alone from s.cursor
					continue
				}
				for _, ev := range g.events {
					s.queue <- ev // cannot block: only the follower sends while s is a member
				}
				s.cursor = g.seq
				if lastOfPage {
					served = append(served, s)
				}
			}
			f.cursor = g.seq
		}
		f.mu.Unlock()
		if len(served) > 0 {
			last := groups[len(groups)-1].seq
			derived, err := f.h.derivedOf(ctx, f.userID, got)
			if err != nil {
				return err
			}
			if len(derived) > 0 {
				f.mu.Lock()
				for _, s := range served {
					if _, ok := f.members[s]; !ok || s.cursor != last {
						continue // left meanwhile, or already further
					}
					if len(derived) > cap(s.queue)-len(s.queue) {
						f.detachLocked(s, nil)
						continue
					}
					for _, ev := range derived {
						s.queue <- ev
					}
				}
				f.mu.Unlock()
			}
		}
		if len(got) < replayPage {
			return nil
		}
	}
}
