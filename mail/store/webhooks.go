package store

import (
	"context"
	"time"
)

// Webhook is an outgoing webhook of the installation: the live update
// events of every user (or of the listed users) are POSTed to URL, signed
// with Secret.
type Webhook struct {
	ID     string
	URL    string
	Secret string
	// Events are the event types delivered; empty means all.
	Events []string
	// Users are the user IDs whose events are delivered; empty means all.
	Users   []string
	Created time.Time
}

// NewWebhook is what CreateWebhook needs.
type NewWebhook struct {
	URL    string
	Secret string
	Events []string
	Users  []string
}

// WebhookStore keeps the webhooks and, per webhook and user, the durable
// delivery cursor (the journal Seq of the last entry whose events were
// delivered or given up on), so that a restarted dispatcher resumes where
// the previous one stopped. Both backends implement it besides Store.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w NewWebhook) (*Webhook, error)
	// GetWebhook returns ErrNotFound for an unknown ID.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks returns all webhooks ordered by ID.
	ListWebhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook removes the webhook and its cursors; ErrNotFound for an
	// unknown ID.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookCursor returns the stored cursor of a webhook for a user; ok
	// is false when none was stored yet.
	WebhookCursor(ctx context.Context, webhookID, userID string) (seq int64, ok bool, err error)
	// SetWebhookCursor stores the cursor (ErrNotFound if the webhook was
	// deleted meanwhile).
	SetWebhookCursor(ctx context.Context, webhookID, userID string, seq int64) error
}
