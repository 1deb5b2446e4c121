package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/text/unicode/norm"
)

// userDoc is a document of "users".
type userDoc struct {
	ID       string `bson:"_id"`
	Username string `bson:"username"`
	Key      string `bson:"ukey"` // NormalizeUsername: unique lookup key
	Hash     string `bson:"hash"`
	Quota    int64  `bson:"quota"`
	Used     int64  `bson:"used"`
	Disabled bool   `bson:"disabled"`
	Created  int64  `bson:"created"`
	// Revoked voids API tokens issued at or before it (Unix ns; 0: none).
	Revoked int64 `bson:"revoked,omitempty"`
	// LastSeq is the Seq of the user's newest journal entry ($max after
	// each journal write), so LastChange survives the journal's expiry.
	LastSeq int64 `bson:"lastseq,omitempty"`
}

func (d *userDoc) user() *store.User {
	return &store.User{ID: d.ID, Username: d.Username, PasswordHash: d.Hash, QuotaLimit: d.Quota,
		StorageUsed: d.Used, Disabled: d.Disabled, Created: fromNano(d.Created), TokensRevoked: revokedTime(d.Revoked)}
}

func revokedTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNano(n)
}

// addrDoc is a document of "addresses".
type addrDoc struct {
	ID      string `bson:"_id"`
	User    string `bson:"user"`
	Address string `bson:"address"`
	Norm    string `bson:"norm"`
	Main    bool   `bson:"main"`
	Created int64  `bson:"created"`
}

func (d *addrDoc) address() *store.Address {
	return &store.Address{ID: d.ID, UserID: d.User, Address: d.Address, Normalized: d.Norm, Main: d.Main, Created: fromNano(d.Created)}
}

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

func (s *Store) getUser(ctx context.Context, userID string) (*userDoc, error) {
	var d userDoc
	if err := s.users.FindOne(ctx, byID(userID)).Decode(&d); err != nil {
		return nil, notFound(err, "user "+userID)
	}
	return &d, nil
}

// CreateUser creates the user, then its default mailboxes and its first
// address, under the user's lock. A failure after the user document was
// written removes what was created.
func (s *Store) CreateUser(ctx context.Context, nu store.NewUser) (*store.User, error) {
	key, err := address.NormalizeUsername(nu.Username)
	if err != nil {
		return nil, fmt.Errorf("mongo: create user: %w", invalid(err))
	}
	if nu.QuotaLimit < 0 {
		return nil, fmt.Errorf("mongo: create user: negative quota: %w", store.ErrInvalidInput)
	}
	var addrKey string
	if nu.Address != "" {
		if addrKey, err = address.Normalize(nu.Address); err != nil {
			return nil, fmt.Errorf("mongo: create user: %w", invalid(err))
		}
		n, err := s.addrs.CountDocuments(ctx, bson.D{{Key: "norm", Value: addrKey}})
		if err != nil {
			return nil, fmt.Errorf("mongo: create user: %w", err)
		}
		if n > 0 {
			return nil, fmt.Errorf("mongo: create user: address %q: %w", nu.Address, store.ErrExists)
		}
	}
	d := &userDoc{ID: newID(), Username: norm.NFC.String(strings.TrimSpace(nu.Username)), Key: key,
		Hash: nu.PasswordHash, Quota: nu.QuotaLimit, Created: nowNano()}
	err = s.withUser(ctx, "create user", d.ID, func(ctx context.Context) error {
		if _, err := s.users.InsertOne(ctx, d); err != nil {
			if isDup(err) {
				return fmt.Errorf("username %q: %w", nu.Username, store.ErrExists)
			}
			return err
		}
		err := func() error {
			for _, dm := range store.DefaultMailboxes {
				if _, err := s.createMailbox(ctx, d.ID, dm.Name, dm.SpecialUse); err != nil {
					return err
				}
			}
			if nu.Address != "" {
				if _, err := s.addAddress(ctx, d.ID, nu.Address, true); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			s.purgeUser(context.WithoutCancel(ctx), d.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return d.user(), nil
}

// purgeUser removes the documents of a user that owns no messages (undo of
// a failed CreateUser).
func (s *Store) purgeUser(ctx context.Context, userID string) {
	f := bson.D{{Key: "user", Value: userID}}
	_, _ = s.mboxes.DeleteMany(ctx, f)
	_, _ = s.addrs.DeleteMany(ctx, f)
	_, _ = s.journal.DeleteMany(ctx, f)
	_, _ = s.users.DeleteOne(ctx, byID(userID))
}

// GetUser returns a user by ID.
func (s *Store) GetUser(ctx context.Context, userID string) (*store.User, error) {
	d, err := s.getUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("mongo: get user: %w", err)
	}
	return d.user(), nil
}

// FindUser looks up by username, or by address when login contains "@".
func (s *Store) FindUser(ctx context.Context, login string) (*store.User, error) {
	if strings.Contains(login, "@") {
		u, _, err := s.ResolveAddress(ctx, login)
		if err != nil {
			return nil, fmt.Errorf("mongo: find user: %w", err)
		}
		return u, nil
	}
	key, err := address.NormalizeUsername(login)
	if err != nil {
		return nil, fmt.Errorf("mongo: find user %q: %w", login, store.ErrNotFound)
	}
	var d userDoc
	if err := s.users.FindOne(ctx, bson.D{{Key: "ukey", Value: key}}).Decode(&d); err != nil {
		return nil, fmt.Errorf("mongo: find user: %w", notFound(err, "user "+login))
	}
	return d.user(), nil
}

// ListUsers returns up to limit users with ID > after, ordered by ID.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.users.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: list users: %w", err)
	}
	var ds []userDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: list users: %w", err)
	}
	out := make([]store.User, 0, len(ds))
	for i := range ds {
		out = append(out, *ds[i].user())
	}
	return out, nil
}

// UpdateUser changes the non-nil fields with one $set.
func (s *Store) UpdateUser(ctx context.Context, userID string, up store.UserUpdate) (*store.User, error) {
	if up.QuotaLimit != nil && *up.QuotaLimit < 0 {
		return nil, fmt.Errorf("mongo: update user: negative quota: %w", store.ErrInvalidInput)
	}
	set := bson.D{}
	if up.PasswordHash != nil {
		set = append(set, bson.E{Key: "hash", Value: *up.PasswordHash})
	}
	if up.QuotaLimit != nil {
		set = append(set, bson.E{Key: "quota", Value: *up.QuotaLimit})
	}
	if up.Disabled != nil {
		set = append(set, bson.E{Key: "disabled", Value: *up.Disabled})
	}
	upd := bson.D{}
	if len(set) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: set})
	}
	if up.TokensRevoked != nil {
		// $max: the revocation time only moves forward.
		upd = append(upd, bson.E{Key: "$max", Value: bson.D{{Key: "revoked", Value: up.TokensRevoked.UnixNano()}}})
	}
	var d *userDoc
	err := s.withUser(ctx, "update user", userID, func(ctx context.Context) error {
		if len(upd) > 0 {
			r, err := s.users.UpdateOne(ctx, byID(userID), upd)
			if err != nil {
				return err
			}
			if r.MatchedCount == 0 {
				return fmt.Errorf("user %s: %w", userID, store.ErrNotFound)
			}
		}
		var err error
		d, err = s.getUser(ctx, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d.user(), nil
}

// DeleteUser removes the user's messages (releasing blobs), journal,
// mailboxes, addresses and finally the user document.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return s.withUser(ctx, "delete user", userID, func(ctx context.Context) error {
		if _, err := s.getUser(ctx, userID); err != nil {
			return err
		}
		f := bson.D{{Key: "user", Value: userID}}
		if err := s.deleteMessages(ctx, f); err != nil {
			return err
		}
		for _, c := range []*mongo.Collection{s.journal, s.mboxes, s.addrs} {
			if _, err := c.DeleteMany(ctx, f); err != nil {
				return err
			}
		}
		_, err := s.users.DeleteOne(ctx, byID(userID))
		return err
	})
}

// RecountQuota recomputes StorageUsed from the messages.
func (s *Store) RecountQuota(ctx context.Context, userID string) (int64, error) {
	var used int64
	err := s.withUser(ctx, "recount quota", userID, func(ctx context.Context) error {
		if _, err := s.getUser(ctx, userID); err != nil {
			return err
		}
		var err error
		used, err = s.sumSizes(ctx, bson.D{{Key: "user", Value: userID}})
		if err != nil {
			return err
		}
		_, err = s.users.UpdateOne(ctx, byID(userID), bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: used}}}})
		return err
	})
	return used, err
}

// sumSizes adds the sizes of the messages matching f. Done in this process
// rather than with $group: FerretDB's $group is unreliable beyond one
// accumulator.
func (s *Store) sumSizes(ctx context.Context, f bson.D) (int64, error) {
	cur, err := s.msgs.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "size", Value: 1}}))
	if err != nil {
		return 0, err
	}
	defer cur.Close(ctx)
	var sum int64
	for cur.Next(ctx) {
		var d struct {
			Size int64 `bson:"size"`
		}
		if err := cur.Decode(&d); err != nil {
			return 0, err
		}
		sum += d.Size
	}
	return sum, cur.Err()
}

// --- addresses ---

func (s *Store) addAddress(ctx context.Context, userID, addr string, main bool) (*store.Address, error) {
	key, err := address.Normalize(addr)
	if err != nil {
		return nil, invalid(err)
	}
	n, err := s.addrs.CountDocuments(ctx, bson.D{{Key: "user", Value: userID}})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		main = true
	}
	d := &addrDoc{ID: newID(), User: userID, Address: strings.TrimSpace(addr), Norm: key, Main: main, Created: nowNano()}
	if _, err := s.addrs.InsertOne(ctx, d); err != nil {
		if isDup(err) {
			return nil, fmt.Errorf("address %q: %w", addr, store.ErrExists)
		}
		return nil, err
	}
	if main {
		if _, err := s.addrs.UpdateMany(ctx, bson.D{{Key: "user", Value: userID}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: d.ID}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "main", Value: false}}}}); err != nil {
			return nil, err
		}
	}
	return d.address(), nil
}

// AddAddress adds an address; the user's first becomes main.
func (s *Store) AddAddress(ctx context.Context, userID, addr string, main bool) (*store.Address, error) {
	var a *store.Address
	err := s.withUser(ctx, "add address", userID, func(ctx context.Context) error {
		if _, err := s.getUser(ctx, userID); err != nil {
			return err
		}
		var err error
		a, err = s.addAddress(ctx, userID, addr, main)
		return err
	})
	return a, err
}

// ListAddresses returns the user's addresses ordered by creation.
func (s *Store) ListAddresses(ctx context.Context, userID string) ([]store.Address, error) {
	if _, err := s.getUser(ctx, userID); err != nil {
		return nil, fmt.Errorf("mongo: list addresses: %w", err)
	}
	cur, err := s.addrs.Find(ctx, bson.D{{Key: "user", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: list addresses: %w", err)
	}
	var ds []addrDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: list addresses: %w", err)
	}
	out := make([]store.Address, 0, len(ds))
	for i := range ds {
		out = append(out, *ds[i].address())
	}
	return out, nil
}

// SetMainAddress makes the address the user's only main address.
func (s *Store) SetMainAddress(ctx context.Context, userID, addressID string) error {
	return s.withUser(ctx, "set main address", userID, func(ctx context.Context) error {
		r, err := s.addrs.UpdateOne(ctx, bson.D{{Key: "_id", Value: addressID}, {Key: "user", Value: userID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "main", Value: true}}}})
		if err != nil {
			return err
		}
		if r.MatchedCount == 0 {
			return fmt.Errorf("address %s: %w", addressID, store.ErrNotFound)
		}
		_, err = s.addrs.UpdateMany(ctx, bson.D{{Key: "user", Value: userID}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: addressID}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "main", Value: false}}}})
		return err
	})
}

// DeleteAddress deletes a non-main address.
func (s *Store) DeleteAddress(ctx context.Context, userID, addressID string) error {
	return s.withUser(ctx, "delete address", userID, func(ctx context.Context) error {
		var d addrDoc
		err := s.addrs.FindOne(ctx, bson.D{{Key: "_id", Value: addressID}, {Key: "user", Value: userID}}).Decode(&d)
		if err != nil {
			return notFound(err, "address "+addressID)
		}
		if d.Main {
			return store.ErrMainAddress
		}
		_, err = s.addrs.DeleteOne(ctx, byID(addressID))
		return err
	})
}

// ResolveAddress finds the owner of an address: exact normalized match, then
// with the "+label" removed.
func (s *Store) ResolveAddress(ctx context.Context, addr string) (*store.User, *store.Address, error) {
	key, err := address.Normalize(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("mongo: resolve address %q: %w", addr, store.ErrNotFound)
	}
	keys := []string{key}
	if stripped, ok := address.StripLabel(key); ok {
		keys = append(keys, stripped)
	}
	for _, k := range keys {
		var d addrDoc
		err := s.addrs.FindOne(ctx, bson.D{{Key: "norm", Value: k}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("mongo: resolve address: %w", err)
		}
		u, err := s.GetUser(ctx, d.User)
		if err != nil {
			return nil, nil, err
		}
		return u, d.address(), nil
	}
	return nil, nil, fmt.Errorf("mongo: resolve address %q: %w", addr, store.ErrNotFound)
}
