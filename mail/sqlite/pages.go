package sqlite

import (
	"context"
	"fmt"

	"github.com/eidermail/eider/mail/store"
)

// A page of a newest-first listing in one statement: the mailbox is
// resolved by a subquery in the same statement (no separate mailboxNo or
// GetMailbox round trip) and the (mbx, uid) index is walked from the
// cursor for exactly limit rows, so the cost does not depend on how many
// UIDs expunges left unused.
const (
	pageMbx = `(SELECT mb.mbx FROM mailboxes mb JOIN users u ON u.uno = mb.uno WHERE mb.id = ? AND u.id = ?)`
	// pageOlderQuery: UIDs below the cursor (?3), newest first.
	pageOlderQuery = `SELECT ` + msgCols + ` FROM messages m WHERE m.mbx = ` + pageMbx +
		` AND m.uid < ? ORDER BY m.uid DESC LIMIT ?`
	// pageNewerQuery: UIDs above the cursor (?3), oldest first.
	pageNewerQuery = `SELECT ` + msgCols + ` FROM messages m WHERE m.mbx = ` + pageMbx +
		` AND m.uid > ? ORDER BY m.uid LIMIT ?`
)

// FetchPage returns at most limit messages of a mailbox with their
// Summary and without Meta: with after > 0 those with UID > after in
// ascending UID order, otherwise those with UID < before (before 0: no
// bound) in descending UID order. An unknown mailbox is store.ErrNotFound.
func (s *Store) FetchPage(ctx context.Context, userID, mailboxID string, before, after uint32, limit int) ([]store.Message, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: fetch page: %w: limit must be positive", store.ErrInvalidInput)
	}
	q, cur := pageOlderQuery, int64(before)
	if after > 0 {
		q, cur = pageNewerQuery, int64(after)
	} else if before == 0 {
		cur = 1 << 32 // above every UID (RFC 3501 §2.3.1.1: 32-bit)
	}
	rows, err := s.r.QueryContext(ctx, q, mailboxID, userID, cur, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch page: %w", err)
	}
	defer rows.Close()
	out := make([]store.Message, 0, limit)
	for rows.Next() {
		out = append(out, store.Message{})
		m := &out[len(out)-1]
		if err := scanMessageInto(rows, m); err != nil {
			return nil, fmt.Errorf("sqlite: fetch page: %w", err)
		}
		m.MailboxID, m.UserID = mailboxID, userID
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: fetch page: %w", err)
	}
	if len(out) == 0 {
		// No rows: an empty range, or no such mailbox of this user.
		if _, _, err := mailboxNo(ctx, s.r, userID, mailboxID); err != nil {
			return nil, fmt.Errorf("sqlite: fetch page: %w", err)
		}
	}
	return out, nil
}
