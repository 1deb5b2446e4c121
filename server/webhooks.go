package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// webhookStore returns the store's webhook half; both backends have it.
func (h *Handlers) webhookStore() (store.WebhookStore, error) {
	ws, ok := h.svc.Store.(store.WebhookStore)
	if !ok {
		return nil, fmt.Errorf("webhooks: store %T keeps no webhooks", h.svc.Store)
	}
	return ws, nil
}

// webhookEventTypes are the event types a webhook may filter on (every
// Event type except reset, which only a stream can need).
var webhookEventTypes = []api.EventType{api.MessageCreated, api.MessageDeleted, api.MessageFlags, api.MessageMoved,
	api.MessageJunk, api.MessageNotjunk, api.MailboxCreated, api.MailboxRenamed, api.MailboxDeleted,
	api.MailboxSubscription, api.MailboxCounters, api.UserQuota}

func webhookView(w *store.Webhook) api.Webhook {
	v := api.Webhook{Id: w.ID, Url: w.URL, Events: w.Events, Users: w.Users, Created: w.Created.UTC()}
	if v.Events == nil {
		v.Events = []string{}
	}
	if v.Users == nil {
		v.Users = []string{}
	}
	return v
}

// ListWebhooks lists every webhook (admin).
func (h *Handlers) ListWebhooks(ctx context.Context, _ api.ListWebhooksRequestObject) (api.ListWebhooksResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ws, err := h.webhookStore()
	if err != nil {
		return nil, err
	}
	l, err := ws.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	out := api.ListWebhooks200JSONResponse{Webhooks: make([]api.Webhook, 0, len(l))}
	for i := range l {
		out.Webhooks = append(out.Webhooks, webhookView(&l[i]))
	}
	return out, nil
}

// CreateWebhook creates a webhook (admin). The URL must be absolute http
// or https; event types must be known ones; users must exist.
func (h *Handlers) CreateWebhook(ctx context.Context, req api.CreateWebhookRequestObject) (api.CreateWebhookResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ws, err := h.webhookStore()
	if err != nil {
		return nil, err
	}
	b := req.Body
	u, err := url.Parse(b.Url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errInvalid("url", "url must be an absolute http or https URL")
	}
	nw := store.NewWebhook{URL: b.Url, Secret: b.Secret}
	if b.Events != nil {
		for _, e := range *b.Events {
			if !slices.Contains(webhookEventTypes, api.EventType(e)) {
				return nil, errInvalid("events", "unknown event type %q", e)
			}
			if !slices.Contains(nw.Events, e) {
				nw.Events = append(nw.Events, e)
			}
		}
	}
	if b.Users != nil {
		for _, id := range *b.Users {
			if _, err := h.svc.Store.GetUser(ctx, id); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return nil, errInvalid("users", "no such user %q", id)
				}
				return nil, fmt.Errorf("webhooks: user: %w", err)
			}
			if !slices.Contains(nw.Users, id) {
				nw.Users = append(nw.Users, id)
			}
		}
	}
	w, err := ws.CreateWebhook(ctx, nw)
	if err != nil {
		return nil, fmt.Errorf("webhooks: create: %w", err)
	}
	h.log.Info("webhook created", "id", w.ID, "url", w.URL)
	return api.CreateWebhook201JSONResponse{Body: webhookView(w), Headers: api.CreateWebhook201ResponseHeaders{Location: strPtr("/webhooks/" + w.ID)}}, nil
}

// GetWebhook returns one webhook (admin).
func (h *Handlers) GetWebhook(ctx context.Context, req api.GetWebhookRequestObject) (api.GetWebhookResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ws, err := h.webhookStore()
	if err != nil {
		return nil, err
	}
	w, err := ws.GetWebhook(ctx, req.Webhook)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("no such webhook")
		}
		return nil, fmt.Errorf("webhooks: get: %w", err)
	}
	return api.GetWebhook200JSONResponse(webhookView(w)), nil
}

// DeleteWebhook deletes a webhook (admin).
func (h *Handlers) DeleteWebhook(ctx context.Context, req api.DeleteWebhookRequestObject) (api.DeleteWebhookResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	ws, err := h.webhookStore()
	if err != nil {
		return nil, err
	}
	if err := ws.DeleteWebhook(ctx, req.Webhook); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("no such webhook")
		}
		return nil, fmt.Errorf("webhooks: delete: %w", err)
	}
	h.log.Info("webhook deleted", "id", req.Webhook)
	return api.DeleteWebhook204Response{}, nil
}
