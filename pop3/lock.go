package pop3

import (
	"context"
	"errors"
	"sync"
)

// ErrLocked is returned by a Locker when the maildrop is already locked.
var ErrLocked = errors.New("pop3: maildrop in use")

// Locker grants the exclusive-access lock RFC 1939 §8 asks of a POP3
// server: one session per maildrop at a time. The in-process LocalLocker
// serves the embedded mode; a Redis implementation serves several
// instances.
type Locker interface {
	// Lock takes the lock on key or fails at once with ErrLocked. The
	// returned unlock function releases it and is safe to call twice.
	Lock(ctx context.Context, key string) (unlock func(), err error)
}

// LocalLocker is an in-process Locker.
type LocalLocker struct {
	mu   sync.Mutex
	held map[string]bool
}

// NewLocalLocker returns an empty LocalLocker.
func NewLocalLocker() *LocalLocker { return &LocalLocker{held: map[string]bool{}} }

// Lock implements Locker.
func (l *LocalLocker) Lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] {
		return nil, ErrLocked
	}
	l.held[key] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, key)
			l.mu.Unlock()
		})
	}, nil
}
