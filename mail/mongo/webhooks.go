package mongo

import (
	"context"
	"fmt"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var _ store.WebhookStore = (*Store)(nil)

// webhookDoc is a document of "webhooks".
type webhookDoc struct {
	ID      string   `bson:"_id"`
	URL     string   `bson:"url"`
	Secret  string   `bson:"secret"`
	Events  []string `bson:"events"`
	Users   []string `bson:"users"`
	Created int64    `bson:"created"`
}

func (d *webhookDoc) webhook() store.Webhook {
	return store.Webhook{ID: d.ID, URL: d.URL, Secret: d.Secret, Events: d.Events, Users: d.Users, Created: fromNano(d.Created)}
}

// webhookCursorDoc is a document of "webhook_cursors": _id is the webhook
// ID and the user ID joined by a space (neither contains one).
type webhookCursorDoc struct {
	ID      string `bson:"_id"`
	Webhook string `bson:"webhook"`
	Seq     int64  `bson:"seq"`
}

// CreateWebhook stores a new webhook.
func (s *Store) CreateWebhook(ctx context.Context, nw store.NewWebhook) (*store.Webhook, error) {
	if nw.URL == "" || nw.Secret == "" {
		return nil, fmt.Errorf("mongo: create webhook: url and secret are required: %w", store.ErrInvalidInput)
	}
	d := &webhookDoc{ID: newID(), URL: nw.URL, Secret: nw.Secret, Events: nw.Events, Users: nw.Users, Created: nowNano()}
	if _, err := s.db.Collection("webhooks").InsertOne(ctx, d); err != nil {
		return nil, fmt.Errorf("mongo: create webhook: %w", err)
	}
	w := d.webhook()
	return &w, nil
}

// GetWebhook returns one webhook.
func (s *Store) GetWebhook(ctx context.Context, id string) (*store.Webhook, error) {
	var d webhookDoc
	if err := s.db.Collection("webhooks").FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return nil, fmt.Errorf("mongo: get webhook: %w", notFound(err, "webhook "+id))
	}
	w := d.webhook()
	return &w, nil
}

// ListWebhooks returns every webhook ordered by ID.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.Webhook, error) {
	cur, err := s.db.Collection("webhooks").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: list webhooks: %w", err)
	}
	var ds []webhookDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: list webhooks: %w", err)
	}
	out := make([]store.Webhook, 0, len(ds))
	for i := range ds {
		out = append(out, ds[i].webhook())
	}
	return out, nil
}

// DeleteWebhook removes a webhook and then its cursors (a cursor written
// in between is refused by SetWebhookCursor's check or left orphaned and
// harmless: it is keyed by the deleted ID).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	r, err := s.db.Collection("webhooks").DeleteOne(ctx, byID(id))
	if err != nil {
		return fmt.Errorf("mongo: delete webhook: %w", err)
	}
	if r.DeletedCount == 0 {
		return fmt.Errorf("mongo: delete webhook %s: %w", id, store.ErrNotFound)
	}
	if _, err := s.db.Collection("webhook_cursors").DeleteMany(ctx, bson.D{{Key: "webhook", Value: id}}); err != nil {
		return fmt.Errorf("mongo: delete webhook cursors: %w", err)
	}
	return nil
}

// WebhookCursor returns the stored cursor of a webhook for a user.
func (s *Store) WebhookCursor(ctx context.Context, webhookID, userID string) (int64, bool, error) {
	var d webhookCursorDoc
	err := s.db.Collection("webhook_cursors").FindOne(ctx, byID(webhookID+" "+userID)).Decode(&d)
	if err != nil {
		if isNotFound(notFound(err, "")) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("mongo: webhook cursor: %w", err)
	}
	return d.Seq, true, nil
}

// SetWebhookCursor stores the cursor of a webhook for a user.
func (s *Store) SetWebhookCursor(ctx context.Context, webhookID, userID string, seq int64) error {
	if _, err := s.GetWebhook(ctx, webhookID); err != nil {
		return fmt.Errorf("mongo: set webhook cursor: %w", err)
	}
	_, err := s.db.Collection("webhook_cursors").UpdateOne(ctx, byID(webhookID+" "+userID),
		bson.D{{Key: "$set", Value: bson.D{{Key: "webhook", Value: webhookID}, {Key: "seq", Value: seq}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongo: set webhook cursor: %w", err)
	}
	return nil
}
