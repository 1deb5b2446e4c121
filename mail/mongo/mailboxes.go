package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// mboxDoc is a document of "mailboxes". UIDNext and HMS move only through
// $inc (allocUIDs, bumpModSeq); Total, Unseen and Size through $inc in the
// same update as the change they count, or right after it under the user
// lock.
type mboxDoc struct {
	ID      string `bson:"_id"`
	User    string `bson:"user"`
	Name    string `bson:"name"`
	Special string `bson:"special"`
	UIDV    int64  `bson:"uidv"`
	UIDNext int64  `bson:"uidnext"`
	HMS     int64  `bson:"hms"`
	Sub     bool   `bson:"sub"`
	Created int64  `bson:"created"`
	Total   int64  `bson:"total"`
	Unseen  int64  `bson:"unseen"`
	Size    int64  `bson:"size"`
}

func (d *mboxDoc) mailbox() *store.Mailbox {
	return &store.Mailbox{ID: d.ID, UserID: d.User, Name: d.Name, SpecialUse: d.Special, UIDValidity: uint32(d.UIDV),
		UIDNext: uint32(d.UIDNext), HighestModSeq: uint64(d.HMS), Subscribed: d.Sub, Created: fromNano(d.Created)}
}

func (s *Store) getMailbox(ctx context.Context, userID, mailboxID string) (*mboxDoc, error) {
	var d mboxDoc
	if err := s.mboxes.FindOne(ctx, bson.D{{Key: "_id", Value: mailboxID}, {Key: "user", Value: userID}}).Decode(&d); err != nil {
		return nil, notFound(err, "mailbox "+mailboxID)
	}
	return &d, nil
}

func (s *Store) mailboxByName(ctx context.Context, userID, name string) (*mboxDoc, error) {
	var d mboxDoc
	if err := s.mboxes.FindOne(ctx, bson.D{{Key: "user", Value: userID}, {Key: "name", Value: name}}).Decode(&d); err != nil {
		return nil, notFound(err, "mailbox "+name)
	}
	return &d, nil
}

// nextUIDValidity returns a UIDVALIDITY greater than every one handed out
// before and at least the current Unix time, so a mailbox deleted and
// created again never reuses one: $max to now-1, then $inc by one (each a
// single atomic update; the $inc gives concurrent callers distinct values).
func (s *Store) nextUIDValidity(ctx context.Context) (uint32, error) {
	unlock, err := s.counterLock(ctx, "uidvalidity")
	if err != nil {
		return 0, err
	}
	defer unlock()
	now := nowNano() / 1e9
	if _, err := s.ctrs.UpdateOne(ctx, byID("uidvalidity"), bson.D{{Key: "$max", Value: bson.D{{Key: "n", Value: now - 1}}}},
		options.UpdateOne().SetUpsert(true)); err != nil && !isDup(err) {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	v, err := s.nextCounter(ctx, "uidvalidity", 1)
	if err != nil {
		return 0, err
	}
	if v > 0xFFFFFFFF {
		return 0, fmt.Errorf("uidvalidity space exhausted")
	}
	return uint32(v), nil
}

// createMailbox creates a mailbox; the caller holds the user lock.
func (s *Store) createMailbox(ctx context.Context, userID, name, specialUse string) (*store.Mailbox, error) {
	name, err := store.CanonicalMailboxName(name)
	if err != nil {
		return nil, err
	}
	if specialUse != "" {
		su, ok := store.CanonicalSpecialUse(specialUse)
		if !ok {
			return nil, fmt.Errorf("special use %q: %w", specialUse, store.ErrInvalidInput)
		}
		specialUse = su
		n, err := s.mboxes.CountDocuments(ctx, bson.D{{Key: "user", Value: userID}, {Key: "special", Value: su}})
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("special use %s: %w", su, store.ErrExists)
		}
	}
	if p := store.ParentName(name); p != "" {
		if _, err := s.mailboxByName(ctx, userID, p); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("mailbox %q: parent %q: %w", name, p, store.ErrNoSuchParent)
			}
			return nil, err
		}
	}
	uv, err := s.nextUIDValidity(ctx)
	if err != nil {
		return nil, err
	}
	d := &mboxDoc{ID: newID(), User: userID, Name: name, Special: specialUse, UIDV: int64(uv), UIDNext: 1, Sub: true, Created: nowNano()}
	if _, err := s.mboxes.InsertOne(ctx, d); err != nil {
		if isDup(err) {
			return nil, fmt.Errorf("mailbox %q: %w", name, store.ErrMailboxExists)
		}
		return nil, err
	}
	if err := s.addJournal(ctx, userID, store.Change{MailboxID: d.ID, Kind: store.ChangeMailboxCreate, Name: name}); err != nil {
		return nil, err
	}
	return d.mailbox(), nil
}

// CreateMailbox creates a subscribed mailbox under an existing parent.
func (s *Store) CreateMailbox(ctx context.Context, userID, name, specialUse string) (*store.Mailbox, error) {
	var mb *store.Mailbox
	err := s.withUser(ctx, "create mailbox", userID, func(ctx context.Context) error {
		if _, err := s.getUser(ctx, userID); err != nil {
			return err
		}
		var err error
		mb, err = s.createMailbox(ctx, userID, name, specialUse)
		return err
	})
	return mb, err
}

// GetMailbox returns a mailbox of the user.
func (s *Store) GetMailbox(ctx context.Context, userID, mailboxID string) (*store.Mailbox, error) {
	d, err := s.getMailbox(ctx, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("mongo: get mailbox: %w", err)
	}
	return d.mailbox(), nil
}

// FindMailbox finds a mailbox by full name.
func (s *Store) FindMailbox(ctx context.Context, userID, name string) (*store.Mailbox, error) {
	cn, err := store.CanonicalMailboxName(name)
	if err != nil {
		return nil, fmt.Errorf("mongo: find mailbox %q: %w", name, store.ErrNotFound)
	}
	d, err := s.mailboxByName(ctx, userID, cn)
	if err != nil {
		return nil, fmt.Errorf("mongo: find mailbox: %w", err)
	}
	return d.mailbox(), nil
}

// FindSpecialUse finds the user's mailbox with that special use.
func (s *Store) FindSpecialUse(ctx context.Context, userID, specialUse string) (*store.Mailbox, error) {
	su, ok := store.CanonicalSpecialUse(specialUse)
	if !ok {
		return nil, fmt.Errorf("mongo: find special use %q: %w", specialUse, store.ErrNotFound)
	}
	var d mboxDoc
	if err := s.mboxes.FindOne(ctx, bson.D{{Key: "user", Value: userID}, {Key: "special", Value: su}}).Decode(&d); err != nil {
		return nil, fmt.Errorf("mongo: find special use: %w", notFound(err, "special use "+su))
	}
	return d.mailbox(), nil
}

func (s *Store) listMailboxes(ctx context.Context, userID string) ([]mboxDoc, error) {
	cur, err := s.mboxes.Find(ctx, bson.D{{Key: "user", Value: userID}}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var ds []mboxDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, err
	}
	// Bytewise order, whatever the server's collation.
	sortMailboxes(ds)
	return ds, nil
}

func sortMailboxes(ds []mboxDoc) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].Name < ds[j-1].Name; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// ListMailboxes returns the user's mailboxes ordered by name (bytewise).
func (s *Store) ListMailboxes(ctx context.Context, userID string) ([]store.Mailbox, error) {
	if _, err := s.getUser(ctx, userID); err != nil {
		return nil, fmt.Errorf("mongo: list mailboxes: %w", err)
	}
	ds, err := s.listMailboxes(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("mongo: list mailboxes: %w", err)
	}
	out := make([]store.Mailbox, 0, len(ds))
	for i := range ds {
		out = append(out, *ds[i].mailbox())
	}
	return out, nil
}

// inferiors returns the user's mailboxes whose name starts with prefix.
func (s *Store) inferiors(ctx context.Context, userID, prefix string) ([]mboxDoc, error) {
	cur, err := s.mboxes.Find(ctx, bson.D{{Key: "user", Value: userID},
		{Key: "name", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(prefix)}}}})
	if err != nil {
		return nil, err
	}
	var ds []mboxDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, err
	}
	out := ds[:0]
	for _, d := range ds { // the server's regex dialect is not trusted with every name
		if strings.HasPrefix(d.Name, prefix) {
			out = append(out, d)
		}
	}
	sortMailboxes(out)
	return out, nil
}

// RenameMailbox renames a mailbox and its inferiors (RFC 3501 §6.3.5),
// under the user lock, one document each.
func (s *Store) RenameMailbox(ctx context.Context, userID, mailboxID, newName string) (*store.Mailbox, error) {
	nn, err := store.CanonicalMailboxName(newName)
	if err != nil {
		return nil, fmt.Errorf("mongo: rename mailbox: %w", err)
	}
	var mb *store.Mailbox
	err = s.withUser(ctx, "rename mailbox", userID, func(ctx context.Context) error {
		cur, err := s.getMailbox(ctx, userID, mailboxID)
		if err != nil {
			return err
		}
		old := cur.Name
		if old == "INBOX" {
			return fmt.Errorf("renaming INBOX: %w", store.ErrInvalidName)
		}
		if nn == old {
			mb = cur.mailbox()
			return nil
		}
		if strings.HasPrefix(nn, old+store.Separator) {
			return fmt.Errorf("rename %q into its own inferior %q: %w", old, nn, store.ErrInvalidName)
		}
		if _, err := s.mailboxByName(ctx, userID, nn); err == nil {
			return fmt.Errorf("mailbox %q: %w", nn, store.ErrMailboxExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if p := store.ParentName(nn); p != "" {
			if _, err := s.mailboxByName(ctx, userID, p); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("mailbox %q: parent %q: %w", nn, p, store.ErrNoSuchParent)
			} else if err != nil {
				return err
			}
		}
		subs, err := s.inferiors(ctx, userID, old+store.Separator)
		if err != nil {
			return err
		}
		all := append([]mboxDoc{*cur}, subs...)
		for _, d := range all {
			if to := nn + d.Name[len(old):]; len(to) > store.MaxMailboxName {
				return fmt.Errorf("renamed inferior %q too long: %w", to, store.ErrInvalidName)
			}
		}
		for _, d := range all {
			to := nn + d.Name[len(old):]
			if _, err := s.mboxes.UpdateOne(ctx, byID(d.ID), bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: to}}}}); err != nil {
				if isDup(err) {
					return fmt.Errorf("mailbox %q: %w", to, store.ErrMailboxExists)
				}
				return err
			}
			if err := s.addJournal(ctx, userID, store.Change{MailboxID: d.ID, Kind: store.ChangeMailboxRename, Name: to, OldName: d.Name}); err != nil {
				return err
			}
		}
		cur.Name = nn
		mb = cur.mailbox()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// DeleteMailbox deletes a mailbox without inferiors and its messages.
func (s *Store) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	return s.withUser(ctx, "delete mailbox", userID, func(ctx context.Context) error {
		d, err := s.getMailbox(ctx, userID, mailboxID)
		if err != nil {
			return err
		}
		if d.Name == "INBOX" || d.Special != "" {
			return fmt.Errorf("mailbox %q: %w", d.Name, store.ErrSpecialUse)
		}
		subs, err := s.inferiors(ctx, userID, d.Name+store.Separator)
		if err != nil {
			return err
		}
		if len(subs) > 0 {
			return fmt.Errorf("mailbox %q: %w", d.Name, store.ErrHasChildren)
		}
		size, err := s.sumSizes(ctx, bson.D{{Key: "mbox", Value: mailboxID}})
		if err != nil {
			return err
		}
		if err := s.deleteMessages(ctx, bson.D{{Key: "mbox", Value: mailboxID}}); err != nil {
			return err
		}
		if _, err := s.mboxes.DeleteOne(ctx, byID(mailboxID)); err != nil {
			return err
		}
		if _, err := s.users.UpdateOne(ctx, byID(userID), bson.D{{Key: "$inc", Value: bson.D{{Key: "used", Value: -size}}}}); err != nil {
			return err
		}
		return s.addJournal(ctx, userID, store.Change{MailboxID: mailboxID, Kind: store.ChangeMailboxDelete, Name: d.Name})
	})
}

// SetSubscribed sets the subscription flag (journaled when it changes).
func (s *Store) SetSubscribed(ctx context.Context, userID, mailboxID string, subscribed bool) error {
	return s.withUser(ctx, "set subscribed", userID, func(ctx context.Context) error {
		d, err := s.getMailbox(ctx, userID, mailboxID)
		if err != nil {
			return err
		}
		if d.Sub == subscribed {
			return nil
		}
		if _, err := s.mboxes.UpdateOne(ctx, byID(mailboxID), bson.D{{Key: "$set", Value: bson.D{{Key: "sub", Value: subscribed}}}}); err != nil {
			return err
		}
		return s.addJournal(ctx, userID, store.Change{MailboxID: mailboxID, Kind: store.ChangeMailboxSubscribe, Name: d.Name})
	})
}

// Counters returns the maintained per-mailbox counters.
func (s *Store) Counters(ctx context.Context, userID, mailboxID string) (store.Counters, error) {
	d, err := s.getMailbox(ctx, userID, mailboxID)
	if err != nil {
		return store.Counters{}, fmt.Errorf("mongo: counters: %w", err)
	}
	return store.Counters{Total: d.Total, Unseen: d.Unseen, Size: d.Size}, nil
}
