package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/store"
)

// journal appends one entry in the caller's transaction. Seq comes from
// AUTOINCREMENT; with all writes serialized it increases in commit order.
func journal(t *wtx, uno int64, c store.Change) error {
	_, err := t.exec(`INSERT INTO journal(uno, mailbox_id, kind, modseq, uid, message_id, flags, name, old_name, time,
		src_mailbox_id, src_uid, moved)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		uno, c.MailboxID, string(c.Kind), int64(c.ModSeq), c.UID, c.MessageID, joinFlags(c.Flags), c.Name, c.OldName, nowNano(),
		c.SourceMailboxID, c.SourceUID, c.Moved)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Changes returns the user's journal entries with Seq > afterSeq in Seq
// order (limit <= 0: no limit).
func (s *Store) Changes(ctx context.Context, userID, mailboxID string, afterSeq int64, limit int) ([]store.Change, error) {
	uno, err := userNo(ctx, s.r, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	if limit <= 0 {
		limit = -1
	}
	q := `SELECT seq, mailbox_id, kind, modseq, uid, message_id, flags, name, old_name, time, src_mailbox_id, src_uid, moved
		FROM journal WHERE uno = ? AND seq > ?`
	args := []any{uno, afterSeq}
	if mailboxID != "" {
		q += ` AND mailbox_id = ?`
		args = append(args, mailboxID)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c := store.Change{UserID: userID}
		var kind, flags string
		var modseq, tm int64
		if err := rows.Scan(&c.Seq, &c.MailboxID, &kind, &modseq, &c.UID, &c.MessageID, &flags, &c.Name, &c.OldName, &tm,
			&c.SourceMailboxID, &c.SourceUID, &c.Moved); err != nil {
			return nil, fmt.Errorf("sqlite: changes: %w", err)
		}
		c.Kind, c.ModSeq, c.Time = store.ChangeKind(kind), uint64(modseq), fromNano(tm)
		if flags != "" {
			c.Flags = strings.Split(flags, " ")
		} else if c.Kind == store.ChangeFlags || c.Kind == store.ChangeExists {
			c.Flags = []string{}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: changes: %w", err)
	}
	return out, nil
}

// LastChange returns the user's highest journal Seq, 0 if none.
func (s *Store) LastChange(ctx context.Context, userID string) (int64, error) {
	// One statement (it runs after every write, for the bus beacon): no
	// row means no such user.
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(seq), 0) FROM journal WHERE uno = u.uno)
		FROM users u WHERE u.id = ?`, userID).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("sqlite: last change: %w", notFound(err, "user "+userID))
	}
	return seq, nil
}

// PruneJournal deletes entries older than olderThan, except the newest
// entry of every mailbox (so LastChange and per-mailbox resync points stay).
func (s *Store) PruneJournal(ctx context.Context, olderThan time.Duration) (int64, error) {
	cutoff := time.Now().Add(-olderThan).UnixNano()
	var n int64
	err := s.update(ctx, "prune journal", func(t *wtx) error {
		res, err := t.exec(`DELETE FROM journal WHERE time < ? AND seq NOT IN
			(SELECT MAX(seq) FROM journal GROUP BY mailbox_id)`, cutoff)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
