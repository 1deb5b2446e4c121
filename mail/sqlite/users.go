package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/store"
	"golang.org/x/text/unicode/norm"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// isUnique reports a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return err
}

func invalid(err error) error {
	return fmt.Errorf("%w: %w", store.ErrInvalidInput, err)
}

const userCols = `uno, id, username, password_hash, quota_limit, storage_used, disabled, created, tokens_revoked`

func scanUser(sc interface{ Scan(...any) error }) (int64, *store.User, error) {
	var u store.User
	var uno, created, revoked int64
	var disabled int
	if err := sc.Scan(&uno, &u.ID, &u.Username, &u.PasswordHash, &u.QuotaLimit, &u.StorageUsed, &disabled, &created, &revoked); err != nil {
		return 0, nil, err
	}
	u.Disabled = disabled != 0
	u.Created = fromNano(created)
	if revoked != 0 {
		u.TokensRevoked = fromNano(revoked)
	}
	return uno, &u, nil
}

// userNo returns the internal key of a user.
func userNo(ctx context.Context, q querier, userID string) (int64, error) {
	var uno int64
	err := q.QueryRowContext(ctx, `SELECT uno FROM users WHERE id = ?`, userID).Scan(&uno)
	if err != nil {
		return 0, notFound(err, "user "+userID)
	}
	return uno, nil
}

// CreateUser creates the user, its default mailboxes and its first address
// in one transaction.
func (s *Store) CreateUser(ctx context.Context, nu store.NewUser) (*store.User, error) {
	key, err := address.NormalizeUsername(nu.Username)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create user: %w", invalid(err))
	}
	if nu.QuotaLimit < 0 {
		return nil, fmt.Errorf("sqlite: create user: negative quota: %w", store.ErrInvalidInput)
	}
	u := &store.User{
		ID:           newID(),
		Username:     normUsername(nu.Username),
		PasswordHash: nu.PasswordHash,
		QuotaLimit:   nu.QuotaLimit,
	}
	now := nowNano()
	u.Created = fromNano(now)
	err = s.update(ctx, "create user", func(t *wtx) error {
		res, err := t.exec(`INSERT INTO users(id, username, username_key, password_hash, quota_limit, created)
			VALUES (?, ?, ?, ?, ?, ?)`, u.ID, u.Username, key, u.PasswordHash, u.QuotaLimit, now)
		if isUnique(err) {
			return fmt.Errorf("username %q: %w", nu.Username, store.ErrExists)
		}
		if err != nil {
			return err
		}
		uno, _ := res.LastInsertId()
		for _, d := range store.DefaultMailboxes {
			if _, err := createMailbox(t, uno, d.Name, d.SpecialUse); err != nil {
				return err
			}
		}
		if nu.Address != "" {
			if _, err := addAddress(t, uno, u.ID, nu.Address, true); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// normUsername is the stored spelling: trimmed and NFC (the lookup key is
// also case-folded).
func normUsername(name string) string {
	return norm.NFC.String(strings.TrimSpace(name))
}

// GetUser returns a user by ID.
func (s *Store) GetUser(ctx context.Context, userID string) (*store.User, error) {
	_, u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, userID))
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user: %w", notFound(err, "user "+userID))
	}
	return u, nil
}

// FindUser looks up by username, or by address when login contains "@".
func (s *Store) FindUser(ctx context.Context, login string) (*store.User, error) {
	if strings.Contains(login, "@") {
		u, _, err := s.ResolveAddress(ctx, login)
		if err != nil {
			return nil, fmt.Errorf("sqlite: find user: %w", err)
		}
		return u, nil
	}
	key, err := address.NormalizeUsername(login)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find user %q: %w", login, store.ErrNotFound)
	}
	_, u, err := scanUser(s.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE username_key = ?`, key))
	if err != nil {
		return nil, fmt.Errorf("sqlite: find user: %w", notFound(err, "user "+login))
	}
	return u, nil
}

// ListUsers returns up to limit users with ID > after, ordered by ID.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]store.User, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		_, u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

// UpdateUser changes the non-nil fields.
func (s *Store) UpdateUser(ctx context.Context, userID string, up store.UserUpdate) (*store.User, error) {
	if up.QuotaLimit != nil && *up.QuotaLimit < 0 {
		return nil, fmt.Errorf("sqlite: update user: negative quota: %w", store.ErrInvalidInput)
	}
	var u *store.User
	err := s.update(ctx, "update user", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		if up.PasswordHash != nil {
			if _, err := t.exec(`UPDATE users SET password_hash = ? WHERE uno = ?`, *up.PasswordHash, uno); err != nil {
				return err
			}
		}
		if up.QuotaLimit != nil {
			if _, err := t.exec(`UPDATE users SET quota_limit = ? WHERE uno = ?`, *up.QuotaLimit, uno); err != nil {
				return err
			}
		}
		if up.Disabled != nil {
			if _, err := t.exec(`UPDATE users SET disabled = ? WHERE uno = ?`, b2i(*up.Disabled), uno); err != nil {
				return err
			}
		}
		if up.TokensRevoked != nil {
			if _, err := t.exec(`UPDATE users SET tokens_revoked = max(tokens_revoked, ?) WHERE uno = ?`, up.TokensRevoked.UnixNano(), uno); err != nil {
				return err
			}
		}
		_, u, err = scanUser(t.row(`SELECT `+userCols+` FROM users WHERE uno = ?`, uno))
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// DeleteUser removes the user and everything it owns; blobs whose last
// reference goes are deleted after commit.
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return s.update(ctx, "delete user", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		if err := unrefMessages(t, `SELECT mno FROM messages WHERE uno = ?`, uno); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM message_data WHERE mno IN (SELECT mno FROM messages WHERE uno = ?)`,
			`DELETE FROM message_refs WHERE uno = ?`,
			`DELETE FROM messages WHERE uno = ?`,
			`DELETE FROM journal WHERE uno = ?`,
			`DELETE FROM mailboxes WHERE uno = ?`,
			`DELETE FROM addresses WHERE uno = ?`,
			`DELETE FROM users WHERE uno = ?`,
		} {
			if _, err := t.exec(q, uno); err != nil {
				return err
			}
		}
		return nil
	})
}

// RecountQuota recomputes StorageUsed from the messages.
func (s *Store) RecountQuota(ctx context.Context, userID string) (int64, error) {
	var used int64
	err := s.update(ctx, "recount quota", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		if err := t.row(`SELECT COALESCE(SUM(size), 0) FROM messages WHERE uno = ?`, uno).Scan(&used); err != nil {
			return err
		}
		_, err = t.exec(`UPDATE users SET storage_used = ? WHERE uno = ?`, used, uno)
		return err
	})
	return used, err
}

// --- addresses ---

const addrCols = `id, address, normalized, main, created`

func scanAddr(sc interface{ Scan(...any) error }, userID string) (*store.Address, error) {
	a := &store.Address{UserID: userID}
	var main int
	var created int64
	if err := sc.Scan(&a.ID, &a.Address, &a.Normalized, &main, &created); err != nil {
		return nil, err
	}
	a.Main = main != 0
	a.Created = fromNano(created)
	return a, nil
}

func addAddress(t *wtx, uno int64, userID, addr string, main bool) (*store.Address, error) {
	key, err := address.Normalize(addr)
	if err != nil {
		return nil, invalid(err)
	}
	var n int
	if err := t.row(`SELECT COUNT(*) FROM addresses WHERE uno = ?`, uno).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		main = true
	}
	a := &store.Address{ID: newID(), UserID: userID, Address: strings.TrimSpace(addr), Normalized: key, Main: main}
	now := nowNano()
	a.Created = fromNano(now)
	if main {
		if _, err := t.exec(`UPDATE addresses SET main = 0 WHERE uno = ?`, uno); err != nil {
			return nil, err
		}
	}
	_, err = t.exec(`INSERT INTO addresses(id, uno, address, normalized, main, created) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, uno, a.Address, key, b2i(main), now)
	if isUnique(err) {
		return nil, fmt.Errorf("address %q: %w", addr, store.ErrExists)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// AddAddress adds an address; the user's first becomes main.
func (s *Store) AddAddress(ctx context.Context, userID, addr string, main bool) (*store.Address, error) {
	var a *store.Address
	err := s.update(ctx, "add address", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		a, err = addAddress(t, uno, userID, addr, main)
		return err
	})
	return a, err
}

// ListAddresses returns the user's addresses ordered by creation.
func (s *Store) ListAddresses(ctx context.Context, userID string) ([]store.Address, error) {
	uno, err := userNo(ctx, s.r, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list addresses: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+addrCols+` FROM addresses WHERE uno = ? ORDER BY created, id`, uno)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list addresses: %w", err)
	}
	defer rows.Close()
	var out []store.Address
	for rows.Next() {
		a, err := scanAddr(rows, userID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list addresses: %w", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list addresses: %w", err)
	}
	return out, nil
}

// SetMainAddress makes the address the user's only main address.
func (s *Store) SetMainAddress(ctx context.Context, userID, addressID string) error {
	return s.update(ctx, "set main address", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		var one int
		if err := t.row(`SELECT 1 FROM addresses WHERE id = ? AND uno = ?`, addressID, uno).Scan(&one); err != nil {
			return notFound(err, "address "+addressID)
		}
		_, err = t.exec(`UPDATE addresses SET main = (id = ?) WHERE uno = ?`, addressID, uno)
		return err
	})
}

// DeleteAddress deletes a non-main address.
func (s *Store) DeleteAddress(ctx context.Context, userID, addressID string) error {
	return s.update(ctx, "delete address", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		var main int
		if err := t.row(`SELECT main FROM addresses WHERE id = ? AND uno = ?`, addressID, uno).Scan(&main); err != nil {
			return notFound(err, "address "+addressID)
		}
		if main != 0 {
			return store.ErrMainAddress
		}
		_, err = t.exec(`DELETE FROM addresses WHERE id = ?`, addressID)
		return err
	})
}

// ResolveAddress finds the owner of an address: exact normalized match, then
// with the "+label" removed.
func (s *Store) ResolveAddress(ctx context.Context, addr string) (*store.User, *store.Address, error) {
	key, err := address.Normalize(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite: resolve address %q: %w", addr, store.ErrNotFound)
	}
	keys := []string{key}
	if stripped, ok := address.StripLabel(key); ok {
		keys = append(keys, stripped)
	}
	for _, k := range keys {
		var userID string
		row := s.r.QueryRowContext(ctx, `SELECT u.id, a.id, a.address, a.normalized, a.main, a.created
			FROM addresses a JOIN users u ON u.uno = a.uno WHERE a.normalized = ?`, k)
		a := &store.Address{}
		var main int
		var created int64
		err := row.Scan(&userID, &a.ID, &a.Address, &a.Normalized, &main, &created)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: resolve address: %w", err)
		}
		a.UserID, a.Main, a.Created = userID, main != 0, fromNano(created)
		u, err := s.GetUser(ctx, userID)
		if err != nil {
			return nil, nil, err
		}
		return u, a, nil
	}
	return nil, nil, fmt.Errorf("sqlite: resolve address %q: %w", addr, store.ErrNotFound)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
