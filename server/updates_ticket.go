package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// ticketTTL is how long an update-stream ticket may wait to be used.
const ticketTTL = 30 * time.Second

// Ticket format: "k1." + base64url(payload JSON) + "." + base64url(HMAC),
// signed with the token secret. The "k1." prefix keeps tickets and bearer
// tokens apart (a ticket is never a valid token, nor the reverse). The
// payload holds a random nonce; redeemed nonces are remembered until the
// ticket expires, so a ticket opens one stream. With Options.TicketNonces
// (Redis in distributed mode) the nonces are shared by every instance;
// without, or while Redis is away (logged), each instance remembers its
// own, and a ticket could open one stream per instance within its 30 s.
type ticketPayload struct {
	User    string `json:"u"`
	Expires int64  `json:"e"`
	Nonce   string `json:"n"`
	PwFP    string `json:"p"`
}

// NonceStore remembers redeemed ticket nonces for every instance
// (mail/cluster's Nonces). Redeem reports false for a nonce redeemed
// before.
type NonceStore interface {
	Redeem(ctx context.Context, nonce string, ttl time.Duration) (bool, error)
}

// usedTickets remembers redeemed nonces until their expiry.
type usedTickets struct {
	mu   sync.Mutex
	used map[string]int64 // nonce -> expiry (unix seconds)
}

// redeem marks nonce used; false if it already was.
func (u *usedTickets) redeem(nonce string, exp, now int64) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for n, e := range u.used {
		if e < now {
			delete(u.used, n)
		}
	}
	if _, ok := u.used[nonce]; ok {
		return false
	}
	u.used[nonce] = exp
	return true
}

// CreateUpdatesTicket issues a single-use ticket for the user's update
// stream, for browsers (which cannot send Authorization on a WebSocket).
func (h *Handlers) CreateUpdatesTicket(ctx context.Context, req api.CreateUpdatesTicketRequestObject) (api.CreateUpdatesTicketResponseObject, error) {
	ctx = reqCtx(ctx)
	userID, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Store.GetUser(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound("no such user")
	}
	if err != nil {
		return nil, fmt.Errorf("updates ticket: user: %w", err)
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, fmt.Errorf("updates ticket: nonce: %w", err)
	}
	exp := h.tokens.now().Add(ticketTTL).Truncate(time.Second)
	p, _ := json.Marshal(ticketPayload{User: u.ID, Expires: exp.Unix(), Nonce: base64.RawURLEncoding.EncodeToString(n[:]), PwFP: pwFingerprint(u.PasswordHash)})
	head := "k1." + base64.RawURLEncoding.EncodeToString(p)
	return api.CreateUpdatesTicket201JSONResponse{Ticket: head + "." + h.tokens.sign(head), Expires: exp.UTC()}, nil
}

// redeemTicket checks a ticket (signature, expiry, user still enabled with
// the same password, not used before) and returns its user.
func (h *Handlers) redeemTicket(ctx context.Context, t string) (*principal, error) {
	i := strings.LastIndexByte(t, '.')
	if !strings.HasPrefix(t, "k1.") || i <= 3 {
		return nil, errUnauthorized("malformed ticket")
	}
	head, sig := t[:i], t[i+1:]
	if subtle.ConstantTimeCompare([]byte(sig), []byte(h.tokens.sign(head))) != 1 {
		return nil, errUnauthorized("bad ticket signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(head[3:])
	if err != nil {
		return nil, errUnauthorized("malformed ticket")
	}
	var p ticketPayload
	if err := json.Unmarshal(b, &p); err != nil || p.User == "" || p.Nonce == "" {
		return nil, errUnauthorized("malformed ticket")
	}
	now := h.tokens.now().Unix()
	if now >= p.Expires {
		return nil, errUnauthorized("ticket expired")
	}
	u, err := h.svc.Store.GetUser(ctx, p.User)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized("the ticket's user no longer exists")
	}
	if err != nil {
		return nil, fmt.Errorf("redeem ticket: %w", err)
	}
	if u.Disabled || subtle.ConstantTimeCompare([]byte(pwFingerprint(u.PasswordHash)), []byte(p.PwFP)) != 1 {
		return nil, errUnauthorized("ticket revoked")
	}
	if !h.redeemNonce(ctx, p.Nonce, p.Expires, now) {
		return nil, errUnauthorized("ticket already used")
	}
	return &principal{userID: u.ID}, nil
}

// redeemNonce marks a ticket's nonce used, in the shared store when there
// is one (else, or when it fails, in this instance's memory).
func (h *Handlers) redeemNonce(ctx context.Context, nonce string, exp, now int64) bool {
	if h.ticketNonces != nil {
		ok, err := h.ticketNonces.Redeem(ctx, "ticket:"+nonce, time.Duration(exp-now+1)*time.Second)
		if err == nil {
			return ok && h.tickets.redeem(nonce, exp, now)
		}
		h.log.Warn("updates ticket: shared nonce store unavailable: single use enforced on this instance only", "err", err)
	}
	return h.tickets.redeem(nonce, exp, now)
}
