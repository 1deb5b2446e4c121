package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/eidermail/eider/mail/store"
)

const mailboxCols = `m.mbx, m.id, m.name, m.special_use, m.uid_validity, m.uid_next, m.highest_modseq, m.subscribed, m.created`

func scanMailbox(sc interface{ Scan(...any) error }, userID string) (int64, *store.Mailbox, error) {
	mb := &store.Mailbox{UserID: userID}
	var mbx, created int64
	var sub int
	if err := sc.Scan(&mbx, &mb.ID, &mb.Name, &mb.SpecialUse, &mb.UIDValidity, &mb.UIDNext, &mb.HighestModSeq, &sub, &created); err != nil {
		return 0, nil, err
	}
	mb.Subscribed = sub != 0
	mb.Created = fromNano(created)
	return mbx, mb, nil
}

// mailboxNo returns the internal keys of a mailbox owned by userID.
func mailboxNo(ctx context.Context, q querier, userID, mailboxID string) (mbx, uno int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT m.mbx, m.uno FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE m.id = ? AND u.id = ?`, mailboxID, userID).Scan(&mbx, &uno)
	if err != nil {
		return 0, 0, notFound(err, "mailbox "+mailboxID)
	}
	return mbx, uno, nil
}

func getMailbox(ctx context.Context, q querier, userID, mailboxID string) (int64, *store.Mailbox, error) {
	mbx, mb, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE m.id = ? AND u.id = ?`, mailboxID, userID), userID)
	if err != nil {
		return 0, nil, notFound(err, "mailbox "+mailboxID)
	}
	return mbx, mb, nil
}

// nextUIDValidity returns a UIDVALIDITY greater than every one handed out
// before (the Unix time when the clock is ahead), so a mailbox deleted and
// created again under the same name never reuses one.
func nextUIDValidity(t *wtx) (uint32, error) {
	var last int64
	err := t.row(`SELECT v FROM kv WHERE k = 'uidvalidity'`).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	v := max(last+1, nowNano()/1e9)
	if v > 0xFFFFFFFF {
		return 0, fmt.Errorf("uidvalidity space exhausted")
	}
	if _, err := t.exec(`INSERT INTO kv(k, v) VALUES ('uidvalidity', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, v); err != nil {
		return 0, err
	}
	return uint32(v), nil
}

func createMailbox(t *wtx, uno int64, name, specialUse string) (*store.Mailbox, error) {
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
		var one int
		err := t.row(`SELECT 1 FROM mailboxes WHERE uno = ? AND special_use = ?`, uno, specialUse).Scan(&one)
		if err == nil {
			return nil, fmt.Errorf("special use %s: %w", specialUse, store.ErrExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	if p := store.ParentName(name); p != "" {
		var one int
		err := t.row(`SELECT 1 FROM mailboxes WHERE uno = ? AND name = ?`, uno, p).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("mailbox %q: parent %q: %w", name, p, store.ErrNoSuchParent)
		}
		if err != nil {
			return nil, err
		}
	}
	uv, err := nextUIDValidity(t)
	if err != nil {
		return nil, err
	}
	now := nowNano()
	var userID string
	if err := t.row(`SELECT id FROM users WHERE uno = ?`, uno).Scan(&userID); err != nil {
		return nil, notFound(err, "user")
	}
	mb := &store.Mailbox{
		ID: newID(), UserID: userID, Name: name, SpecialUse: specialUse,
		UIDValidity: uv, UIDNext: 1, Subscribed: true, Created: fromNano(now),
	}
	_, err = t.exec(`INSERT INTO mailboxes(id, uno, name, special_use, uid_validity, uid_next, highest_modseq, subscribed, created)
		VALUES (?, ?, ?, ?, ?, 1, 0, 1, ?)`, mb.ID, uno, name, specialUse, uv, now)
	if isUnique(err) {
		return nil, fmt.Errorf("mailbox %q: %w", name, store.ErrMailboxExists)
	}
	if err != nil {
		return nil, err
	}
	if err := journal(t, uno, store.Change{MailboxID: mb.ID, Kind: store.ChangeMailboxCreate, Name: name}); err != nil {
		return nil, err
	}
	return mb, nil
}

// CreateMailbox creates a subscribed mailbox under an existing parent.
func (s *Store) CreateMailbox(ctx context.Context, userID, name, specialUse string) (*store.Mailbox, error) {
	var mb *store.Mailbox
	err := s.update(ctx, "create mailbox", func(t *wtx) error {
		uno, err := userNo(t.ctx, t, userID)
		if err != nil {
			return err
		}
		mb, err = createMailbox(t, uno, name, specialUse)
		return err
	})
	return mb, err
}

// GetMailbox returns a mailbox of the user.
func (s *Store) GetMailbox(ctx context.Context, userID, mailboxID string) (*store.Mailbox, error) {
	_, mb, err := getMailbox(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get mailbox: %w", err)
	}
	return mb, nil
}

// FindMailbox finds a mailbox by full name.
func (s *Store) FindMailbox(ctx context.Context, userID, name string) (*store.Mailbox, error) {
	cn, err := store.CanonicalMailboxName(name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find mailbox %q: %w", name, store.ErrNotFound)
	}
	_, mb, err := scanMailbox(s.r.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE u.id = ? AND m.name = ?`, userID, cn), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find mailbox: %w", notFound(err, "mailbox "+name))
	}
	return mb, nil
}

// FindSpecialUse finds the user's mailbox with that special use.
func (s *Store) FindSpecialUse(ctx context.Context, userID, specialUse string) (*store.Mailbox, error) {
	su, ok := store.CanonicalSpecialUse(specialUse)
	if !ok {
		return nil, fmt.Errorf("sqlite: find special use %q: %w", specialUse, store.ErrNotFound)
	}
	_, mb, err := scanMailbox(s.r.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE u.id = ? AND m.special_use = ?`, userID, su), userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find special use: %w", notFound(err, "special use "+su))
	}
	return mb, nil
}

// ListMailboxes returns the user's mailboxes ordered by name (bytewise).
func (s *Store) ListMailboxes(ctx context.Context, userID string) ([]store.Mailbox, error) {
	uno, err := userNo(ctx, s.r, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mailboxes: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.uno = ? ORDER BY m.name`, uno)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mailboxes: %w", err)
	}
	defer rows.Close()
	var out []store.Mailbox
	for rows.Next() {
		_, mb, err := scanMailbox(rows, userID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list mailboxes: %w", err)
		}
		out = append(out, *mb)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list mailboxes: %w", err)
	}
	return out, nil
}

// RenameMailbox renames a mailbox and its inferiors in one transaction.
// The new parent must exist; renaming INBOX or into one's own subtree is
// ErrInvalidName; an existing target is ErrMailboxExists.
func (s *Store) RenameMailbox(ctx context.Context, userID, mailboxID, newName string) (*store.Mailbox, error) {
	nn, err := store.CanonicalMailboxName(newName)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rename mailbox: %w", err)
	}
	var mb *store.Mailbox
	err = s.update(ctx, "rename mailbox", func(t *wtx) error {
		mbx, cur, err := getMailbox(t.ctx, t, userID, mailboxID)
		if err != nil {
			return err
		}
		var uno int64
		if err := t.row(`SELECT uno FROM mailboxes WHERE mbx = ?`, mbx).Scan(&uno); err != nil {
			return err
		}
		old := cur.Name
		if old == "INBOX" {
			return fmt.Errorf("renaming INBOX: %w", store.ErrInvalidName)
		}
		if nn == old {
			mb = cur
			return nil
		}
		if strings.HasPrefix(nn, old+store.Separator) {
			return fmt.Errorf("rename %q into its own inferior %q: %w", old, nn, store.ErrInvalidName)
		}
		var one int
		err = t.row(`SELECT 1 FROM mailboxes WHERE uno = ? AND name = ?`, uno, nn).Scan(&one)
		if err == nil {
			return fmt.Errorf("mailbox %q: %w", nn, store.ErrMailboxExists)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if p := store.ParentName(nn); p != "" {
			err := t.row(`SELECT 1 FROM mailboxes WHERE uno = ? AND name = ?`, uno, p).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("mailbox %q: parent %q: %w", nn, p, store.ErrNoSuchParent)
			}
			if err != nil {
				return err
			}
		}
		// The mailbox itself and every inferior, by prefix.
		prefix := old + store.Separator
		rows, err := t.query(`SELECT id, name FROM mailboxes WHERE uno = ? AND (name = ? OR substr(name, 1, ?) = ?) ORDER BY name`,
			uno, old, len(prefix), prefix)
		if err != nil {
			return err
		}
		type ren struct{ id, from, to string }
		var rens []ren
		for rows.Next() {
			var r ren
			if err := rows.Scan(&r.id, &r.from); err != nil {
				rows.Close()
				return err
			}
			r.to = nn + r.from[len(old):]
			if len(r.to) > store.MaxMailboxName {
				rows.Close()
				return fmt.Errorf("renamed inferior %q too long: %w", r.to, store.ErrInvalidName)
			}
			rens = append(rens, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rens {
			if _, err := t.exec(`UPDATE mailboxes SET name = ? WHERE id = ?`, r.to, r.id); err != nil {
				if isUnique(err) {
					return fmt.Errorf("mailbox %q: %w", r.to, store.ErrMailboxExists)
				}
				return err
			}
			if err := journal(t, uno, store.Change{MailboxID: r.id, Kind: store.ChangeMailboxRename, Name: r.to, OldName: r.from}); err != nil {
				return err
			}
		}
		cur.Name = nn
		mb = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// DeleteMailbox deletes a mailbox without inferiors and its messages.
func (s *Store) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	return s.update(ctx, "delete mailbox", func(t *wtx) error {
		mbx, mb, err := getMailbox(t.ctx, t, userID, mailboxID)
		if err != nil {
			return err
		}
		if mb.Name == "INBOX" || mb.SpecialUse != "" {
			return fmt.Errorf("mailbox %q: %w", mb.Name, store.ErrSpecialUse)
		}
		var uno int64
		if err := t.row(`SELECT uno FROM mailboxes WHERE mbx = ?`, mbx).Scan(&uno); err != nil {
			return err
		}
		prefix := mb.Name + store.Separator
		var n int
		if err := t.row(`SELECT COUNT(*) FROM mailboxes WHERE uno = ? AND substr(name, 1, ?) = ?`, uno, len(prefix), prefix).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("mailbox %q: %w", mb.Name, store.ErrHasChildren)
		}
		var size int64
		if err := t.row(`SELECT size FROM mailboxes WHERE mbx = ?`, mbx).Scan(&size); err != nil {
			return err
		}
		if err := unrefMessages(t, `SELECT mno FROM messages WHERE mbx = ?`, mbx); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM message_data WHERE mno IN (SELECT mno FROM messages WHERE mbx = ?)`,
			`DELETE FROM message_refs WHERE mno IN (SELECT mno FROM messages WHERE mbx = ?)`,
			`DELETE FROM messages WHERE mbx = ?`,
			`DELETE FROM mailboxes WHERE mbx = ?`,
		} {
			if _, err := t.exec(q, mbx); err != nil {
				return err
			}
		}
		if _, err := t.exec(`UPDATE users SET storage_used = storage_used - ? WHERE uno = ?`, size, uno); err != nil {
			return err
		}
		return journal(t, uno, store.Change{MailboxID: mailboxID, Kind: store.ChangeMailboxDelete, Name: mb.Name})
	})
}

// SetSubscribed sets the subscription flag (journaled when it changes).
func (s *Store) SetSubscribed(ctx context.Context, userID, mailboxID string, subscribed bool) error {
	return s.update(ctx, "set subscribed", func(t *wtx) error {
		mbx, mb, err := getMailbox(t.ctx, t, userID, mailboxID)
		if err != nil {
			return err
		}
		if mb.Subscribed == subscribed {
			return nil
		}
		var uno int64
		if err := t.row(`SELECT uno FROM mailboxes WHERE mbx = ?`, mbx).Scan(&uno); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mailboxes SET subscribed = ? WHERE mbx = ?`, b2i(subscribed), mbx); err != nil {
			return err
		}
		return journal(t, uno, store.Change{MailboxID: mailboxID, Kind: store.ChangeMailboxSubscribe, Name: mb.Name})
	})
}

// Counters returns the maintained per-mailbox counters.
func (s *Store) Counters(ctx context.Context, userID, mailboxID string) (store.Counters, error) {
	var c store.Counters
	err := s.r.QueryRowContext(ctx, `SELECT m.total, m.unseen, m.size FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE m.id = ? AND u.id = ?`, mailboxID, userID).Scan(&c.Total, &c.Unseen, &c.Size)
	if err != nil {
		return c, fmt.Errorf("sqlite: counters: %w", notFound(err, "mailbox "+mailboxID))
	}
	return c, nil
}
