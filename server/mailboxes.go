package server

import (
	"context"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

func (h *Handlers) mailboxView(ctx context.Context, userID string, mb *store.Mailbox) (api.Mailbox, error) {
	c, err := h.svc.Store.Counters(ctx, userID, mb.ID)
	if err != nil {
		return api.Mailbox{}, err
	}
	return toMailbox(mb, c), nil
}

// ListMailboxes lists every mailbox with its counters, ordered by path.
func (h *Handlers) ListMailboxes(ctx context.Context, req api.ListMailboxesRequestObject) (api.ListMailboxesResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.Store.GetUser(ctx, id); err != nil {
		return nil, err
	}
	mbs, err := h.svc.Store.ListMailboxes(ctx, id)
	if err != nil {
		return nil, err
	}
	out := api.ListMailboxes200JSONResponse{Mailboxes: make([]api.Mailbox, 0, len(mbs))}
	for i := range mbs {
		v, err := h.mailboxView(ctx, id, &mbs[i])
		if err != nil {
			return nil, err
		}
		out.Mailboxes = append(out.Mailboxes, v)
	}
	return out, nil
}

// CreateMailbox creates a mailbox (parents must exist).
func (h *Handlers) CreateMailbox(ctx context.Context, req api.CreateMailboxRequestObject) (api.CreateMailboxResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	mb, err := h.svc.CreateMailbox(ctx, id, req.Body.Path, "")
	if err != nil {
		return nil, err
	}
	v, err := h.subscribeAndView(ctx, id, mb, req.Body.Subscribed)
	if err != nil {
		return nil, err
	}
	return api.CreateMailbox201JSONResponse(v), nil
}

// GetMailbox returns one mailbox with its counters.
func (h *Handlers) GetMailbox(ctx context.Context, req api.GetMailboxRequestObject) (api.GetMailboxResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	mb, err := h.svc.Store.GetMailbox(ctx, id, req.Mailbox)
	if err != nil {
		return nil, err
	}
	v, err := h.mailboxView(ctx, id, mb)
	if err != nil {
		return nil, err
	}
	return api.GetMailbox200JSONResponse(v), nil
}

// UpdateMailbox renames (children follow, RFC 3501 §6.3.5) and/or
// (un)subscribes a mailbox.
func (h *Handlers) UpdateMailbox(ctx context.Context, req api.UpdateMailboxRequestObject) (api.UpdateMailboxResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	mb, err := h.svc.Store.GetMailbox(ctx, id, req.Mailbox)
	if err != nil {
		return nil, err
	}
	if p := req.Body.Path; p != nil && *p != mb.Name {
		if mb, err = h.svc.RenameMailbox(ctx, id, mb.ID, *p); err != nil {
			return nil, err
		}
	}
	v, err := h.subscribeAndView(ctx, id, mb, req.Body.Subscribed)
	if err != nil {
		return nil, err
	}
	return api.UpdateMailbox200JSONResponse(v), nil
}

// subscribeAndView applies a requested subscription change (nil: none) to
// mb and returns the mailbox as the API shows it.
func (h *Handlers) subscribeAndView(ctx context.Context, userID string, mb *store.Mailbox, subscribed *bool) (api.Mailbox, error) {
	if subscribed != nil && *subscribed != mb.Subscribed {
		if err := h.svc.Store.SetSubscribed(ctx, userID, mb.ID, *subscribed); err != nil {
			return api.Mailbox{}, err
		}
		h.svc.Announce(ctx, userID)
		mb.Subscribed = *subscribed
	}
	return h.mailboxView(ctx, userID, mb)
}

// DeleteMailbox deletes a mailbox that is neither INBOX nor special-use and
// has no children.
func (h *Handlers) DeleteMailbox(ctx context.Context, req api.DeleteMailboxRequestObject) (api.DeleteMailboxResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := h.svc.DeleteMailbox(ctx, id, req.Mailbox); err != nil {
		return nil, err
	}
	return api.DeleteMailbox204Response{}, nil
}
