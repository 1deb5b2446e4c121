package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/eidermail/eider/mail/store"
)

var _ store.WebhookStore = (*Store)(nil)

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// CreateWebhook stores a new webhook.
func (s *Store) CreateWebhook(ctx context.Context, nw store.NewWebhook) (*store.Webhook, error) {
	if nw.URL == "" || nw.Secret == "" {
		return nil, fmt.Errorf("sqlite: create webhook: url and secret are required: %w", store.ErrInvalidInput)
	}
	w := &store.Webhook{ID: newID(), URL: nw.URL, Secret: nw.Secret, Events: nw.Events, Users: nw.Users}
	now := nowNano()
	w.Created = fromNano(now)
	err := s.update(ctx, "create webhook", func(t *wtx) error {
		_, err := t.exec(`INSERT INTO webhooks(id, url, secret, events, users, created) VALUES (?, ?, ?, ?, ?, ?)`,
			w.ID, w.URL, w.Secret, strings.Join(w.Events, " "), strings.Join(w.Users, " "), now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create webhook: %w", err)
	}
	return w, nil
}

func scanWebhook(sc interface{ Scan(...any) error }) (*store.Webhook, error) {
	var w store.Webhook
	var events, users string
	var created int64
	if err := sc.Scan(&w.ID, &w.URL, &w.Secret, &events, &users, &created); err != nil {
		return nil, err
	}
	w.Events, w.Users, w.Created = splitList(events), splitList(users), fromNano(created)
	return &w, nil
}

// GetWebhook returns one webhook.
func (s *Store) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx, `SELECT id, url, secret, events, users, created FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: webhook %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns every webhook ordered by ID.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, url, secret, events, users, created FROM webhooks ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	defer rows.Close()
	out := []store.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
		}
		out = append(out, *w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook removes a webhook; its cursors go with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	err := s.update(ctx, "delete webhook", func(t *wtx) error {
		res, err := t.exec(`DELETE FROM webhooks WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("webhook %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete webhook: %w", err)
	}
	return nil
}

// WebhookCursor returns the stored cursor of a webhook for a user.
func (s *Store) WebhookCursor(ctx context.Context, webhookID, userID string) (int64, bool, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM webhook_cursors WHERE webhook_id = ? AND user_id = ?`, webhookID, userID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: webhook cursor: %w", err)
	}
	return seq, true, nil
}

// SetWebhookCursor stores the cursor of a webhook for a user.
func (s *Store) SetWebhookCursor(ctx context.Context, webhookID, userID string, seq int64) error {
	err := s.update(ctx, "set webhook cursor", func(t *wtx) error {
		var one int
		if err := t.row(`SELECT 1 FROM webhooks WHERE id = ?`, webhookID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("webhook %s: %w", webhookID, store.ErrNotFound)
			}
			return err
		}
		_, err := t.exec(`INSERT INTO webhook_cursors(webhook_id, user_id, seq) VALUES (?, ?, ?)
			ON CONFLICT(webhook_id, user_id) DO UPDATE SET seq = excluded.seq`, webhookID, userID, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set webhook cursor: %w", err)
	}
	return nil
}
