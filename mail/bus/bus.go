// Package bus carries change beacons between the parts of Eider that change a
// user's mail and the sessions watching it (IMAP IDLE, POP3 locks, WebSocket
// streams). A beacon carries no data: it says "user U's journal has grown to
// at least Seq"; listeners read the journal from the store to learn what
// changed. Beacons may be merged or dropped under load, never reordered for
// one user, so a listener that reads the journal on every beacon misses
// nothing.
//
// Local is the in-process bus of the embedded mode; the Redis bus of the
// distributed mode implements the same interface.
package bus

import (
	"context"
	"sync"
)

// Beacon announces that a user's journal grew.
type Beacon struct {
	UserID string
	// Seq is the journal sequence of the change that caused the beacon.
	Seq int64
}

// Bus publishes and subscribes per-user beacons.
type Bus interface {
	// Publish announces a change; it does not block on slow subscribers.
	Publish(ctx context.Context, b Beacon) error
	// Subscribe returns a channel of beacons for one user and a cancel
	// function that must be called to stop. The channel has capacity 1 and
	// keeps the newest beacon when the reader is behind.
	Subscribe(ctx context.Context, userID string) (<-chan Beacon, func(), error)
	Close() error
}

// Local is the in-process Bus.
type Local struct {
	mu   sync.Mutex
	subs map[string]map[*sub]struct{}
}

type sub struct{ ch chan Beacon }

var _ Bus = (*Local)(nil)

// NewLocal returns an empty in-process bus.
func NewLocal() *Local { return &Local{subs: map[string]map[*sub]struct{}{}} }

// Publish delivers b to every subscriber of b.UserID without blocking: a
// subscriber that has not read its previous beacon gets it replaced by b
// (beacons are cumulative).
func (l *Local) Publish(ctx context.Context, b Beacon) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs[b.UserID] {
		select {
		case s.ch <- b:
		default:
			select {
			case old := <-s.ch:
				if old.Seq > b.Seq {
					b = old
				}
			default:
			}
			s.ch <- b
		}
	}
	return nil
}

// Subscribe registers a listener for userID.
func (l *Local) Subscribe(ctx context.Context, userID string) (<-chan Beacon, func(), error) {
	s := &sub{ch: make(chan Beacon, 1)}
	l.mu.Lock()
	if l.subs[userID] == nil {
		l.subs[userID] = map[*sub]struct{}{}
	}
	l.subs[userID][s] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs[userID], s)
			if len(l.subs[userID]) == 0 {
				delete(l.subs, userID)
			}
			l.mu.Unlock()
		})
	}, nil
}

// Close drops all subscriptions.
func (l *Local) Close() error {
	l.mu.Lock()
	l.subs = map[string]map[*sub]struct{}{}
	l.mu.Unlock()
	return nil
}
