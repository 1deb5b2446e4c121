package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the Bus of the distributed mode: beacons travel over Redis
// pub/sub, one channel per user (Prefix + user ID), so a change committed on
// one instance reaches the listeners of every instance.
//
// Each Redis bus holds one pub/sub connection for all its subscriptions and
// fans beacons out to local listeners through a Local bus (newest beacon
// kept per listener). When the connection drops, go-redis dials again and
// re-subscribes every channel; beacons published meanwhile are lost, so on
// every subscription confirmation — the first and each one after a
// reconnection — the bus gives each listener of that user a catch-up
// beacon (Seq 0): listeners read the journal on every beacon, so they see
// every change committed during the outage.
type Redis struct {
	rdb    *redis.Client
	prefix string
	log    *slog.Logger
	wait   time.Duration
	local  *Local
	ps     *redis.PubSub

	mu      sync.Mutex
	refs    map[string]int             // channel -> local subscriber count
	waiting map[string][]chan struct{} // channel -> Subscribe calls awaiting confirmation

	cancel context.CancelFunc
	done   chan struct{}
}

var _ Bus = (*Redis)(nil)

// RedisOptions configure a Redis bus.
type RedisOptions struct {
	// Prefix is prepended to user IDs to name channels (default "eider:beacon:").
	Prefix string
	// Logger receives connection trouble (default slog.Default()).
	Logger *slog.Logger
	// SubscribeWait bounds how long Subscribe waits for Redis to confirm
	// a new channel (default 2s). When Redis is away, Subscribe returns
	// after it anyway: the listener gets its catch-up beacon once the
	// subscription is confirmed, and meanwhile serves from the store.
	SubscribeWait time.Duration
}

// NewRedis starts a bus on rdb. Close stops it (rdb stays open).
func NewRedis(rdb *redis.Client, o RedisOptions) *Redis {
	if o.Prefix == "" {
		o.Prefix = "eider:beacon:"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SubscribeWait <= 0 {
		o.SubscribeWait = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Redis{rdb: rdb, prefix: o.Prefix, log: o.Logger, wait: o.SubscribeWait, local: NewLocal(), ps: rdb.Subscribe(ctx),
		refs: map[string]int{}, waiting: map[string][]chan struct{}{}, cancel: cancel, done: make(chan struct{})}
	go r.receive(ctx)
	return r
}

// Publish sends b to every instance. The payload is the decimal Seq.
func (r *Redis) Publish(ctx context.Context, b Beacon) error {
	if err := r.rdb.Publish(ctx, r.prefix+b.UserID, strconv.FormatInt(b.Seq, 10)).Err(); err != nil {
		return fmt.Errorf("bus: redis publish: %w", err)
	}
	return nil
}

// Subscribe registers a listener for userID; it returns once Redis has
// confirmed the channel's subscription, so a beacon published after
// Subscribe returns is delivered — or, if Redis is away, after
// SubscribeWait, with the subscription pending (see RedisOptions).
func (r *Redis) Subscribe(ctx context.Context, userID string) (<-chan Beacon, func(), error) {
	ch := r.prefix + userID
	ready := make(chan struct{})
	r.mu.Lock()
	r.refs[ch]++
	first := r.refs[ch] == 1
	if first {
		r.waiting[ch] = append(r.waiting[ch], ready)
	} else {
		close(ready)
	}
	r.mu.Unlock()
	c, cancelLocal, _ := r.local.Subscribe(ctx, userID)
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			cancelLocal()
			r.mu.Lock()
			r.refs[ch]--
			last := r.refs[ch] == 0
			if last {
				delete(r.refs, ch)
			}
			r.mu.Unlock()
			if last {
				if err := r.ps.Unsubscribe(context.Background(), ch); err != nil {
					r.log.Warn("bus: redis unsubscribe", "channel", ch, "err", err)
				}
			}
		})
	}
	if first {
		if err := r.ps.Subscribe(ctx, ch); err != nil {
			// The receive loop subscribes again after reconnecting.
			r.log.Warn("bus: redis subscribe (will retry on reconnect)", "channel", ch, "err", err)
		}
	}
	t := time.NewTimer(r.wait)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
		r.log.Warn("bus: redis has not confirmed a subscription; serving from the store until it does", "channel", ch)
	case <-ctx.Done():
		cancel()
		return nil, nil, fmt.Errorf("bus: redis subscribe %s: %w", ch, ctx.Err())
	}
	return c, cancel, nil
}

// receive reads the pub/sub connection until Close. Errors (a dropped
// connection) are logged; the next Receive reconnects and re-subscribes.
func (r *Redis) receive(ctx context.Context) {
	defer close(r.done)
	backoff := 50 * time.Millisecond
	down := false
	for {
		msg, err := r.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !down {
				r.log.Warn("bus: redis connection lost; serving from the store until it returns", "err", err)
				down = true
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		if down {
			r.log.Info("bus: redis connection back")
			down = false
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			r.mu.Lock()
			ws := r.waiting[m.Channel]
			delete(r.waiting, m.Channel)
			r.mu.Unlock()
			for _, w := range ws {
				close(w)
			}
			// Catch-up: whatever was published while this channel was not
			// subscribed is in the journal.
			if user, ok := strings.CutPrefix(m.Channel, r.prefix); ok {
				_ = r.local.Publish(ctx, Beacon{UserID: user})
			}
		case *redis.Message:
			user, ok := strings.CutPrefix(m.Channel, r.prefix)
			if !ok {
				continue
			}
			seq, err := strconv.ParseInt(m.Payload, 10, 64)
			if err != nil {
				r.log.Warn("bus: bad beacon payload", "channel", m.Channel, "payload", m.Payload)
				continue
			}
			_ = r.local.Publish(ctx, Beacon{UserID: user, Seq: seq})
		}
	}
}

// Close stops the bus and drops all subscriptions.
func (r *Redis) Close() error {
	r.cancel()
	err := r.ps.Close()
	<-r.done
	r.local.Close()
	if err != nil && !errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("bus: redis close: %w", err)
	}
	return nil
}
