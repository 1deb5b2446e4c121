// Package mail is the core every Eider front-end shares. Service ties the
// parts together: it parses incoming messages once (package mimetree), keeps
// their bodies in the blob store, records them through the store.Store
// interface, and announces every change on the change bus so that sessions
// on this and other instances learn of it.
//
// Front-ends read through Service.Store directly; they make changes through
// Service so that no change goes unannounced.
package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/store"
)

// Service is the mail core. Its fields are set once at start and not changed.
type Service struct {
	Store    store.Store
	Blobs    blob.Store
	Bus      bus.Bus
	Limits   mimetree.Limits
	Password password.Params
	// AuthCache, if not nil, remembers recent successful password checks
	// (see AuthCache for what makes that safe).
	AuthCache *AuthCache
	Log       *slog.Logger
}

// CreateUser hashes the password and creates the user with its default
// mailboxes and, if address is not empty, its main address.
func (s *Service) CreateUser(ctx context.Context, username, pw, address string, quota int64) (*store.User, error) {
	if pw == "" {
		return nil, fmt.Errorf("create user: %w: empty password", store.ErrInvalidInput)
	}
	h, err := password.Hash(pw, s.Password)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	u, err := s.Store.CreateUser(ctx, store.NewUser{Username: username, PasswordHash: h, QuotaLimit: quota, Address: address})
	if err != nil {
		return nil, fmt.Errorf("create user %q: %w", username, err)
	}
	s.Announce(ctx, u.ID)
	return u, nil
}

// Authenticate checks a login (username or any address) and password.
// Every failure is store.ErrAuthFailed (or ErrUserDisabled), so callers do
// not reveal which logins exist.
func (s *Service) Authenticate(ctx context.Context, login, pw string) (*store.User, error) {
	u, err := s.Store.FindUser(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.ErrAuthFailed
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	// The user record is read on every attempt, so a cached success only
	// counts against the current password hash and Disabled flag.
	if !s.AuthCache.Hit(u.ID, u.PasswordHash, pw) {
		if err := password.Verify(pw, u.PasswordHash); err != nil {
			return nil, store.ErrAuthFailed
		}
		s.AuthCache.Put(u.ID, u.PasswordHash, pw)
	}
	if u.Disabled {
		s.AuthCache.Forget(u.ID)
		return nil, store.ErrUserDisabled
	}
	return u, nil
}

// Parse reads a raw message and returns it ready for store.Append. Large
// leaf bodies are written to the blob store while reading. The caller must
// call the returned release function after the Append that references the
// blobs has finished (successfully or not).
func (s *Service) Parse(ctx context.Context, r io.Reader) (*store.NewMessage, func(), error) {
	p, err := mimetree.Parse(ctx, r, s.Blobs, s.Limits)
	release := func() {}
	if p != nil && len(p.Blobs) > 0 {
		if rel, ok := s.Blobs.(blob.Releaser); ok {
			hashes := p.Blobs
			release = func() { rel.Release(hashes...) }
		}
	}
	if err != nil {
		release()
		return nil, func() {}, fmt.Errorf("parse message: %w", err)
	}
	nm, err := newMessage(p)
	if err != nil {
		release()
		return nil, func() {}, err
	}
	return nm, release, nil
}

// Append parses a raw message and stores it in a mailbox of the user.
func (s *Service) Append(ctx context.Context, userID, mailboxID string, r io.Reader, flags []string, date time.Time) (*store.Message, error) {
	nm, release, err := s.Parse(ctx, r)
	if err != nil {
		return nil, err
	}
	defer release()
	nm.Flags = flags
	nm.InternalDate = date
	m, err := s.Store.Append(ctx, userID, mailboxID, nm)
	if err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	s.Announce(ctx, userID)
	return m, nil
}

// StoreFlags changes flags and announces the change.
func (s *Service) StoreFlags(ctx context.Context, userID, mailboxID string, set store.UIDSet, up store.FlagUpdate) (*store.FlagResult, error) {
	res, err := s.Store.StoreFlags(ctx, userID, mailboxID, set, up)
	if err == nil && len(res.Updated) > 0 {
		s.Announce(ctx, userID)
	}
	return res, err
}

// Copy copies messages and announces the change.
func (s *Service) Copy(ctx context.Context, userID, src string, set store.UIDSet, dst string) (*store.CopyResult, error) {
	res, err := s.Store.Copy(ctx, userID, src, set, dst)
	if err == nil && len(res.Pairs) > 0 {
		s.Announce(ctx, userID)
	}
	return res, err
}

// Move moves messages and announces the change.
func (s *Service) Move(ctx context.Context, userID, src string, set store.UIDSet, dst string) (*store.CopyResult, error) {
	res, err := s.Store.Move(ctx, userID, src, set, dst)
	if err == nil && len(res.Pairs) > 0 {
		s.Announce(ctx, userID)
	}
	return res, err
}

// Expunge removes \Deleted messages and announces the change.
func (s *Service) Expunge(ctx context.Context, userID, mailboxID string, set store.UIDSet) (*store.ExpungeResult, error) {
	res, err := s.Store.Expunge(ctx, userID, mailboxID, set)
	if err == nil && len(res.UIDs) > 0 {
		s.Announce(ctx, userID)
	}
	return res, err
}

// Delete removes messages regardless of flags and announces the change.
func (s *Service) Delete(ctx context.Context, userID, mailboxID string, set store.UIDSet) (*store.ExpungeResult, error) {
	res, err := s.Store.Delete(ctx, userID, mailboxID, set)
	if err == nil && len(res.UIDs) > 0 {
		s.Announce(ctx, userID)
	}
	return res, err
}

// CreateMailbox creates a mailbox and announces it.
func (s *Service) CreateMailbox(ctx context.Context, userID, name, specialUse string) (*store.Mailbox, error) {
	mb, err := s.Store.CreateMailbox(ctx, userID, name, specialUse)
	if err == nil {
		s.Announce(ctx, userID)
	}
	return mb, err
}

// RenameMailbox renames a mailbox (with its inferiors) and announces it.
func (s *Service) RenameMailbox(ctx context.Context, userID, mailboxID, name string) (*store.Mailbox, error) {
	mb, err := s.Store.RenameMailbox(ctx, userID, mailboxID, name)
	if err == nil {
		s.Announce(ctx, userID)
	}
	return mb, err
}

// DeleteMailbox deletes a mailbox and announces it.
func (s *Service) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	err := s.Store.DeleteMailbox(ctx, userID, mailboxID)
	if err == nil {
		s.Announce(ctx, userID)
	}
	return err
}

// Meta decodes the precomputed structure of a stored message.
func Meta(m *store.Message) (*mimetree.Meta, error) {
	var meta mimetree.Meta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		return nil, fmt.Errorf("message %s: decode meta: %w", m.ID, err)
	}
	return &meta, nil
}

// Announce publishes a beacon with the user's newest journal entry. Service
// methods call it after every change; code that writes through Store
// directly (delivery, which appends for several recipients) calls it once
// afterwards. A bus failure is logged, not returned: the change is
// committed, and listeners catch up from the journal on their next beacon.
func (s *Service) Announce(ctx context.Context, userID string) {
	if s.Bus == nil {
		return
	}
	seq, err := s.Store.LastChange(ctx, userID)
	if err == nil {
		err = s.Bus.Publish(ctx, bus.Beacon{UserID: userID, Seq: seq})
	}
	if err != nil && s.Log != nil {
		s.Log.Warn("change bus publish failed", "user", userID, "err", err)
	}
}

func newMessage(p *mimetree.Parsed) (*store.NewMessage, error) {
	meta := p.Meta
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode meta: %w", err)
	}
	sum, err := encodeSummary(meta)
	if err != nil {
		return nil, err
	}
	nm := &store.NewMessage{
		Size:           meta.Size,
		Segments:       p.Segments,
		Meta:           mb,
		Summary:        sum,
		Subject:        meta.Subject,
		From:           joinAddrs(meta.From),
		To:             joinAddrs(meta.To),
		Cc:             joinAddrs(meta.Cc),
		Bcc:            joinAddrs(meta.Bcc),
		Date:           meta.Date,
		MessageID:      meta.MessageID,
		InReplyTo:      meta.InReplyTo,
		References:     meta.References,
		Text:           meta.Text,
		Intro:          meta.Intro,
		HasAttachments: meta.HasAttachments,
	}
	for _, h := range meta.Headers {
		nm.Headers = append(nm.Headers, store.Header{Key: h.Key, Value: h.Value})
	}
	return nm, nil
}

func joinAddrs(as []mimetree.Address) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteString(", ")
		}
		if a.Name != "" {
			b.WriteString(a.Name)
			b.WriteString(" <")
			b.WriteString(a.Address)
			b.WriteString(">")
		} else {
			b.WriteString(a.Address)
		}
	}
	return b.String()
}
