// Package webhook delivers the live update events (server/events) to the
// installation's outgoing webhooks (store.WebhookStore): an HTTP POST per
// event, signed with HMAC-SHA256 (RFC 2104) of the body, retried with
// exponential backoff, at least once and in journal order per user.
//
// Across instances, each webhook is driven by one instance at a time: the
// one holding its lease ("webhook:<id>" in a Leaser; Redis in the
// distributed mode, in-process in the embedded one). The position of a
// webhook in each user's journal is a durable cursor in the store, written
// after each entry's events are delivered (or given up on), so a new
// holder (after a restart or a failover) resumes where the last one
// stopped; an entry whose delivery was cut short by a crash is delivered
// again, with the same Eider-Delivery id.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/server/events"
)

// Header names of a delivery (documented in openapi.yaml, tag webhooks).
const (
	HeaderSignature = "Eider-Signature" // "sha256=" + lowercase hex HMAC-SHA256(secret, body)
	HeaderDelivery  = "Eider-Delivery"  // the delivery id, the same on every attempt
	HeaderAttempt   = "Eider-Attempt"   // 1 on the first attempt
	HeaderEvent     = "Eider-Event"     // the event type
)

// Delivery is the JSON body of a webhook POST (the contract's
// WebhookDelivery).
type Delivery = api.WebhookDelivery

// Sign returns the Eider-Signature value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's valid Eider-Signature, in constant
// time (for receivers written in Go, and the tests).
func Verify(secret string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Leaser hands out exclusive, self-renewing leases. TryLock fails at once
// (any error) when another holder has key; release gives it back.
// mail/cluster's Cluster implements it over Redis; Local in one process.
type Leaser interface {
	TryLock(ctx context.Context, key string) (release func(), err error)
}

// Local is the in-process Leaser of the embedded mode.
type Local struct {
	mu   sync.Mutex
	held map[string]bool
}

// ErrHeld is Local's answer for a lease someone else holds.
var ErrHeld = errors.New("webhook: lease held")

// TryLock takes key if free.
func (l *Local) TryLock(_ context.Context, key string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[key] {
		return nil, ErrHeld
	}
	if l.held == nil {
		l.held = map[string]bool{}
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

// Store is what the dispatcher needs from the store: both backends are one.
type Store interface {
	store.Store
	store.WebhookStore
}

// Options configure a Dispatcher.
type Options struct {
	Store  Store
	Leases Leaser
	// Client sends the POSTs (default: a client with Timeout).
	Client *http.Client
	// Timeout bounds one attempt, answer included (default 10s).
	Timeout time.Duration
	// MaxAttempts per event and webhook (default 5); then the event is
	// dropped for that webhook with a warning.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one up to MaxBackoff (defaults 1s and 1m).
	Backoff, MaxBackoff time.Duration
	// Poll is how often the journals are read and the webhook list is
	// refreshed (default 1s).
	Poll   time.Duration
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Dispatcher drives the webhooks whose lease it holds.
type Dispatcher struct {
	o Options
}

// New returns a dispatcher; Run starts it.
func New(o Options) (*Dispatcher, error) {
	if o.Store == nil || o.Leases == nil {
		return nil, errors.New("webhook: Store and Leases are required")
	}
	o.defaults()
	return &Dispatcher{o: o}, nil
}

// Run refreshes the webhook list every Poll and drives each webhook it
// gets the lease of, until ctx ends; it returns once every driver stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	var mu sync.Mutex
	running := map[string]bool{}
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		ws, err := d.o.Store.ListWebhooks(ctx)
		if err != nil && ctx.Err() == nil {
			d.o.Logger.Warn("webhook: listing webhooks", "err", err)
		}
		for _, w := range ws {
			mu.Lock()
			busy := running[w.ID]
			mu.Unlock()
			if busy {
				continue
			}
			release, err := d.o.Leases.TryLock(ctx, "webhook:"+w.ID)
			if err != nil {
				continue // another instance drives it (or the lease store failed: next round)
			}
			mu.Lock()
			running[w.ID] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					release()
					mu.Lock()
					delete(running, w.ID)
					mu.Unlock()
				}()
				d.drive(ctx, w)
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// drive delivers the events of one webhook every Poll until ctx ends or
// the webhook is deleted.
func (d *Dispatcher) drive(ctx context.Context, w store.Webhook) {
	log := d.o.Logger.With("webhook", w.ID)
	log.Info("webhook: driving", "url", w.URL)
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		err := d.round(ctx, &w)
		if errors.Is(err, store.ErrNotFound) {
			if _, gerr := d.o.Store.GetWebhook(ctx, w.ID); errors.Is(gerr, store.ErrNotFound) {
				log.Info("webhook: deleted, stopping")
				return
			}
		} else if err != nil && ctx.Err() == nil {
			log.Warn("webhook: round failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round delivers every user's new journal entries once.
func (d *Dispatcher) round(ctx context.Context, w *store.Webhook) error {
	if _, err := d.o.Store.GetWebhook(ctx, w.ID); err != nil {
		return err
	}
	if len(w.Users) > 0 {
		for _, u := range w.Users {
			if err := d.user(ctx, w, u); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			} else if err != nil {
				if _, gerr := d.o.Store.GetWebhook(ctx, w.ID); gerr != nil {
					return gerr
				}
			}
		}
		return nil
	}
	after := ""
	for {
		us, err := d.o.Store.ListUsers(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("webhook: users: %w", err)
		}
		for _, u := range us {
			if err := d.user(ctx, w, u.ID); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					if _, gerr := d.o.Store.GetWebhook(ctx, w.ID); gerr != nil {
						return gerr
					}
					continue // the user was deleted meanwhile
				}
				return err
			}
		}
		if len(us) < 500 {
			return nil
		}
		after = us[len(us)-1].ID
	}
}

// page is how many journal entries are read at once.
const page = 200

// user delivers the journal entries of userID after the webhook's cursor.
// A user met for the first time is read from the start of its journal,
// skipping the entries older than the webhook (no replay of history).
func (d *Dispatcher) user(ctx context.Context, w *store.Webhook, userID string) error {
	st := d.o.Store
	cursor, known, err := st.WebhookCursor(ctx, w.ID, userID)
	if err != nil {
		return fmt.Errorf("webhook: cursor: %w", err)
	}
	for {
		got, err := st.Changes(ctx, userID, "", cursor, page)
		if err != nil {
			return fmt.Errorf("webhook: journal: %w", err)
		}
		chs := got
		if !known {
			i := slices.IndexFunc(chs, func(c store.Change) bool { return !c.Time.Before(w.Created) })
			if i < 0 {
				i = len(chs)
			}
			if i > 0 {
				cursor = chs[i-1].Seq
			}
			if chs = chs[i:]; len(chs) == 0 {
				if len(got) == page {
					continue // more history to skip
				}
				if err := st.SetWebhookCursor(ctx, w.ID, userID, cursor); err != nil {
					return fmt.Errorf("webhook: cursor: %w", err)
				}
				return nil
			}
			known = true
		}
		groups, err := events.Build(ctx, st, userID, chs)
		if err != nil {
			return err
		}
		for _, g := range groups {
			for i, ev := range g.Events {
				if len(w.Events) > 0 && !slices.Contains(w.Events, string(ev.Type)) {
					continue
				}
				id := w.ID + "." + userID + "." + strconv.FormatInt(g.Seq, 10) + "." + strconv.Itoa(i)
				if err := d.deliver(ctx, w, userID, id, ev); err != nil {
					return err // ctx ended
				}
			}
			cursor = g.Seq
			// Delivered: record it even when ctx ends now, so that a
			// stopping instance does not leave it to be delivered again.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.Timeout)
			err := st.SetWebhookCursor(sctx, w.ID, userID, cursor)
			cancel()
			if err != nil {
				return fmt.Errorf("webhook: cursor: %w", err)
			}
		}
		if len(got) < page {
			return nil
		}
	}
}

// deliver POSTs one event until a 2xx answer or MaxAttempts; only the end
// of ctx is an error (a delivery given up on is logged and skipped).
func (d *Dispatcher) deliver(ctx context.Context, w *store.Webhook, userID, id string, ev *api.Event) error {
	wait := d.o.Backoff
	for attempt := 1; ; attempt++ {
		err := d.post(ctx, w, Delivery{Id: id, Attempt: attempt, Webhook: w.ID, User: userID, Event: *ev})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= d.o.MaxAttempts {
			d.o.Logger.Warn("webhook: delivery given up", "webhook", w.ID, "delivery", id, "attempts", attempt, "err", err)
			return nil
		}
		d.o.Logger.Info("webhook: delivery failed, retrying", "webhook", w.ID, "delivery", id, "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, d.o.MaxBackoff)
	}
}

// post makes one attempt.
func (d *Dispatcher) post(ctx context.Context, w *store.Webhook, dl Delivery) error {
	body, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Eider-Webhook/1")
	req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	req.Header.Set(HeaderDelivery, dl.Id)
	req.Header.Set(HeaderAttempt, strconv.Itoa(dl.Attempt))
	req.Header.Set(HeaderEvent, string(dl.Event.Type))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post: HTTP %d", resp.StatusCode)
	}
	return nil
}
