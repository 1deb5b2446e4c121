// Package delivery puts incoming mail into users' mailboxes. It is the
// protocol-free half of the LMTP and SMTP listeners (package lmtp): it
// resolves recipient addresses to users, adds the trace headers
// (Return-Path, Delivered-To; RFC 5321 §4.4), files spam into Junk, stores a
// message redelivered within a window only once, and maps every failure to
// an SMTP reply with an enhanced status code (RFC 3463).
//
// Invariants:
//   - Every recipient of a Deliver call gets exactly one Result; a nil Err
//     means the message is durably stored in that recipient's mailbox (or
//     was already stored there: a suppressed duplicate).
//   - The stored bytes are exactly the trace headers followed by the bytes
//     received, so what the mailbox owner downloads is what was delivered.
//   - The message body is streamed into the store, never held whole.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/metrics"
	"github.com/eidermail/eider/mail/store"
)

// Options configure a Deliverer.
type Options struct {
	// A message whose top-level SpamHeader field equals SpamValue (compared
	// case-insensitively, surrounding space ignored) goes to the user's \Junk
	// mailbox. An empty SpamHeader disables the check.
	SpamHeader string
	SpamValue  string
	// DuplicateWindow: a message whose Message-ID was delivered to the same
	// mailbox no longer than this ago is not stored again. 0 disables.
	DuplicateWindow time.Duration
	// Log receives one line per recipient delivered. Nil: slog.Default().
	Log *slog.Logger
	// Now returns the current time (tests). Nil: time.Now.
	Now func() time.Time
}

// Deliverer delivers messages through a mail.Service. It is safe for
// concurrent use.
type Deliverer struct {
	svc  *mail.Service
	opt  Options
	dups keyLock
}

// New returns a Deliverer on svc.
func New(svc *mail.Service, opt Options) *Deliverer {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Deliverer{svc: svc, opt: opt}
}

// Recipient is a resolved envelope recipient.
type Recipient struct {
	// Address is the address as the sender gave it (RCPT TO); it goes into
	// Delivered-To.
	Address string
	User    *store.User
}

// Envelope is one transaction: the reverse-path and the resolved recipients.
type Envelope struct {
	// From is the reverse-path without angle brackets; "" is the null
	// reverse-path <> of bounces (RFC 5321 §4.5.5).
	From       string
	Recipients []Recipient
}

// Result is the outcome for one recipient.
type Result struct {
	Recipient Recipient
	// MailboxID and UID locate the stored message (zero for a duplicate
	// or a failure).
	MailboxID string
	UID       uint32
	// Junk is set when the spam verdict sent the message to \Junk.
	Junk bool
	// Duplicate is set when the message was already in the mailbox.
	Duplicate bool
	// Err is nil on success, else an *Error.
	Err *Error
}

// Resolve finds the user an envelope address belongs to: normalized (case,
// NFC, IDN domain in either A- or U-label form) and with a "+label" removed
// when the exact address is unknown. Failures are *Error: 550 5.1.1 for an
// unknown user, 501 5.1.3 for a malformed address, 451 4.3.0 otherwise.
func (d *Deliverer) Resolve(ctx context.Context, addr string) (*Recipient, error) {
	if _, _, err := address.Split(addr); err != nil {
		return nil, Classify(err)
	}
	u, _, err := d.svc.Store.ResolveAddress(ctx, addr)
	if err != nil {
		return nil, Classify(fmt.Errorf("resolve %q: %w", addr, err))
	}
	if u.Disabled {
		return nil, Classify(fmt.Errorf("resolve %q: %w", addr, store.ErrUserDisabled))
	}
	return &Recipient{Address: addr, User: u}, nil
}

// traceHeaders returns the header lines prepended for one recipient:
// Return-Path (RFC 5321 §4.4, added at final delivery) and Delivered-To
// (the de-facto loop-detection header of Postfix and Dovecot).
func traceHeaders(from, rcpt string) string {
	return "Return-Path: <" + from + ">\r\nDelivered-To: " + rcpt + "\r\n"
}

// Deliver reads one message from r and stores it for every recipient of
// env. It returns one Result per recipient, in order. r is read once; for
// the second and later recipients the message is re-read from what was
// stored for the first (its own Delivered-To differs), so nothing is held
// in memory and large bodies are written to the blob store once.
func (d *Deliverer) Deliver(ctx context.Context, env *Envelope, r io.Reader) []Result {
	res := make([]Result, len(env.Recipients))
	for i, rc := range env.Recipients {
		res[i].Recipient = rc
	}
	if len(res) == 0 {
		return res
	}
	prefix0 := traceHeaders(env.From, env.Recipients[0].Address)
	first, release, err := d.svc.Parse(ctx, io.MultiReader(strings.NewReader(prefix0), r))
	if err != nil {
		e := Classify(err)
		for i := range res {
			res[i].Err = e
		}
		count(&res[0], len(res))
		d.opt.Log.Warn("delivery failed", "from", env.From, "rcpts", len(res), "err", e)
		return res
	}
	defer release()
	users := map[string]bool{}
	for i, rc := range env.Recipients {
		nm := first
		if i > 0 {
			body := blob.Reader(ctx, d.svc.Blobs, first.Segments, int64(len(prefix0)), -1)
			var rel func()
			nm, rel, err = d.svc.Parse(ctx, io.MultiReader(strings.NewReader(traceHeaders(env.From, rc.Address)), body))
			body.Close()
			if err != nil {
				res[i].Err = Classify(err)
				d.logResult(env, &res[i])
				continue
			}
			d.store(ctx, nm, &res[i])
			rel()
		} else {
			d.store(ctx, nm, &res[i])
		}
		if res[i].Err == nil && !res[i].Duplicate {
			users[rc.User.ID] = true
		}
		d.logResult(env, &res[i])
	}
	for uid := range users {
		d.svc.Announce(ctx, uid)
	}
	return res
}

// Delivery counters for GET /metrics, per recipient.
var (
	mDelivered = metrics.Default.Counter("eider_deliveries_total", "Deliveries per recipient, by result.", "result", "delivered")
	mJunk      = metrics.Default.Counter("eider_deliveries_total", "Deliveries per recipient, by result.", "result", "junk")
	mDuplicate = metrics.Default.Counter("eider_deliveries_total", "Deliveries per recipient, by result.", "result", "duplicate")
	mTempFail  = metrics.Default.Counter("eider_deliveries_total", "Deliveries per recipient, by result.", "result", "tempfail")
	mPermFail  = metrics.Default.Counter("eider_deliveries_total", "Deliveries per recipient, by result.", "result", "permfail")
)

// count adds n recipients' results to the delivery counters.
func count(r *Result, n int) {
	c := mDelivered
	switch {
	case r.Err != nil && r.Err.Code >= 500:
		c = mPermFail
	case r.Err != nil:
		c = mTempFail
	case r.Duplicate:
		c = mDuplicate
	case r.Junk:
		c = mJunk
	}
	c.Add(uint64(n))
}

func (d *Deliverer) logResult(env *Envelope, r *Result) {
	count(r, 1)
	if r.Err != nil {
		d.opt.Log.Warn("delivery failed", "from", env.From, "rcpt", r.Recipient.Address, "code", r.Err.Code, "err", r.Err)
		return
	}
	d.opt.Log.Info("delivered", "from", env.From, "rcpt", r.Recipient.Address, "user", r.Recipient.User.Username,
		"mailbox", r.MailboxID, "uid", r.UID, "junk", r.Junk, "duplicate", r.Duplicate)
}

// store appends one parsed message for one recipient, into Junk when the
// spam verdict says so, unless it is a duplicate.
func (d *Deliverer) store(ctx context.Context, nm *store.NewMessage, r *Result) {
	u := r.Recipient.User
	mb, junk, err := d.target(ctx, u.ID, nm)
	if err != nil {
		r.Err = Classify(err)
		return
	}
	r.Junk = junk
	now := d.opt.Now()
	if d.opt.DuplicateWindow > 0 && nm.MessageID != "" {
		unlock := d.dups.lock(mb.ID + "\x00" + nm.MessageID)
		defer unlock()
		dup, err := d.isDuplicate(ctx, u.ID, mb.ID, nm.MessageID, now.Add(-d.opt.DuplicateWindow))
		if err != nil {
			r.Err = Classify(err)
			return
		}
		if dup {
			r.Duplicate = true
			return
		}
	}
	cp := *nm
	cp.InternalDate = now
	cp.Flags = nil
	m, err := d.svc.Store.Append(ctx, u.ID, mb.ID, &cp)
	if err != nil {
		r.Err = Classify(fmt.Errorf("append to %s of %s: %w", mb.Name, u.Username, err))
		return
	}
	r.MailboxID, r.UID = mb.ID, m.UID
}

// target picks INBOX, or \Junk for a message with the spam verdict (INBOX
// when the user has no \Junk mailbox).
func (d *Deliverer) target(ctx context.Context, userID string, nm *store.NewMessage) (*store.Mailbox, bool, error) {
	if d.isSpam(nm) {
		mb, err := d.svc.Store.FindSpecialUse(ctx, userID, store.SpecialJunk)
		if err == nil {
			return mb, true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, false, fmt.Errorf("find Junk: %w", err)
		}
	}
	mb, err := d.svc.Store.FindMailbox(ctx, userID, "INBOX")
	if err != nil {
		// The user exists, so a missing INBOX is our fault, not the sender's.
		return nil, false, fmt.Errorf("find INBOX: %w", errors.Join(err, errNoInbox))
	}
	return mb, false, nil
}

var errNoInbox = errors.New("user has no INBOX")

func (d *Deliverer) isSpam(nm *store.NewMessage) bool {
	if d.opt.SpamHeader == "" {
		return false
	}
	for _, h := range nm.Headers {
		if strings.EqualFold(h.Key, d.opt.SpamHeader) && strings.EqualFold(strings.TrimSpace(h.Value), d.opt.SpamValue) {
			return true
		}
	}
	return false
}

// isDuplicate reports whether a message with exactly this Message-ID was
// delivered to the mailbox at or after since (an indexed lookup).
func (d *Deliverer) isDuplicate(ctx context.Context, userID, mailboxID, msgID string, since time.Time) (bool, error) {
	uids, err := d.svc.Store.FindByMessageID(ctx, userID, mailboxID, msgID, since)
	if err != nil {
		return false, fmt.Errorf("duplicate check: %w", err)
	}
	return len(uids) > 0, nil
}
