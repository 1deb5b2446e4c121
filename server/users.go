package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/store"
)

func (h *Handlers) userView(ctx context.Context, u *store.User) (api.User, error) {
	addrs, err := h.svc.Store.ListAddresses(ctx, u.ID)
	if err != nil {
		return api.User{}, fmt.Errorf("user %s: addresses: %w", u.ID, err)
	}
	return toUser(u, addrs), nil
}

// ListUsers pages through all users by id (admin).
func (h *Handlers) ListUsers(ctx context.Context, req api.ListUsersRequestObject) (api.ListUsersResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	cur, err := parseCursor(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	after := ""
	if cur != nil {
		after = cur.mailbox // user cursors carry the last id in the id field
	}
	limit := pageLimit(req.Params.Limit)
	us, err := h.svc.Store.ListUsers(ctx, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := api.ListUsers200JSONResponse{Users: make([]api.User, 0, min(limit, len(us)))}
	for i := range us[:min(limit, len(us))] {
		v, err := h.userView(ctx, &us[i])
		if err != nil {
			return nil, err
		}
		out.Users = append(out.Users, v)
	}
	if len(us) > limit {
		out.NextCursor = strPtr(cursor{mailbox: us[limit-1].ID, uid: 1}.String())
	}
	return out, nil
}

// CreateUser creates a user with its default mailboxes (admin).
func (h *Handlers) CreateUser(ctx context.Context, req api.CreateUserRequestObject) (api.CreateUserResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	b := req.Body
	var quota int64
	if b.Quota != nil {
		quota = *b.Quota
	}
	addr := ""
	if b.Address != nil {
		addr = *b.Address
	}
	u, err := h.svc.CreateUser(ctx, b.Username, b.Password, addr, quota)
	if err != nil {
		return nil, err
	}
	v, err := h.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	return api.CreateUser201JSONResponse{Body: v, Headers: api.CreateUser201ResponseHeaders{Location: strPtr("/users/" + u.ID)}}, nil
}

// GetUser returns a user with quota and addresses.
func (h *Handlers) GetUser(ctx context.Context, req api.GetUserRequestObject) (api.GetUserResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Store.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := h.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	return api.GetUser200JSONResponse(v), nil
}

// UpdateUser changes password (the user itself or admin), quota and
// disabled (admin only). All given fields change in one store update.
func (h *Handlers) UpdateUser(ctx context.Context, req api.UpdateUserRequestObject) (api.UpdateUserResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	b := req.Body
	if (b.Quota != nil || b.Disabled != nil) && !who(ctx).admin {
		return nil, errForbidden("quota and disabled need the admin token")
	}
	up := store.UserUpdate{QuotaLimit: b.Quota, Disabled: b.Disabled}
	if b.Password != nil {
		hash, err := password.Hash(*b.Password, h.svc.Password)
		if err != nil {
			return nil, fmt.Errorf("update user: %w", err)
		}
		up.PasswordHash = &hash
	}
	u, err := h.svc.Store.UpdateUser(ctx, id, up)
	if err != nil {
		return nil, err
	}
	v, err := h.userView(ctx, u)
	if err != nil {
		return nil, err
	}
	return api.UpdateUser200JSONResponse(v), nil
}

// DeleteUser removes a user and everything it owns (admin).
func (h *Handlers) DeleteUser(ctx context.Context, req api.DeleteUserRequestObject) (api.DeleteUserResponseObject, error) {
	ctx = reqCtx(ctx)
	if err := requireAdmin(ctx); err != nil {
		return nil, err
	}
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Store.DeleteUser(ctx, id); err != nil {
		return nil, err
	}
	return api.DeleteUser204Response{}, nil
}

// RecountQuota recomputes the storage used.
func (h *Handlers) RecountQuota(ctx context.Context, req api.RecountQuotaRequestObject) (api.RecountQuotaResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	used, err := h.svc.Store.RecountQuota(ctx, id)
	if err != nil {
		return nil, err
	}
	u, err := h.svc.Store.GetUser(ctx, id)
	if err != nil {
		return nil, err
	}
	return api.RecountQuota200JSONResponse{Limit: u.QuotaLimit, Used: used}, nil
}

// ListAddresses lists the user's addresses.
func (h *Handlers) ListAddresses(ctx context.Context, req api.ListAddressesRequestObject) (api.ListAddressesResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.Store.GetUser(ctx, id); err != nil {
		return nil, err
	}
	as, err := h.svc.Store.ListAddresses(ctx, id)
	if err != nil {
		return nil, err
	}
	out := api.ListAddresses200JSONResponse{Addresses: make([]api.Address, 0, len(as))}
	for _, a := range as {
		out.Addresses = append(out.Addresses, toAddress(a))
	}
	return out, nil
}

// CreateAddress adds an address (internationalized ones included).
func (h *Handlers) CreateAddress(ctx context.Context, req api.CreateAddressRequestObject) (api.CreateAddressResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	main := req.Body.Main != nil && *req.Body.Main
	a, err := h.svc.Store.AddAddress(ctx, id, req.Body.Address, main)
	if errors.Is(err, store.ErrInvalidInput) {
		return nil, errInvalid("address", "%s", fromSentinel(err, store.ErrInvalidInput))
	}
	if err != nil {
		return nil, err
	}
	return api.CreateAddress201JSONResponse(toAddress(*a)), nil
}

// UpdateAddress makes an address the main one.
func (h *Handlers) UpdateAddress(ctx context.Context, req api.UpdateAddressRequestObject) (api.UpdateAddressResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Store.SetMainAddress(ctx, id, req.Address); err != nil {
		return nil, err
	}
	as, err := h.svc.Store.ListAddresses(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.ID == req.Address {
			return api.UpdateAddress200JSONResponse(toAddress(a)), nil
		}
	}
	return nil, errNotFound("address not found")
}

// DeleteAddress removes an address other than the main one.
func (h *Handlers) DeleteAddress(ctx context.Context, req api.DeleteAddressRequestObject) (api.DeleteAddressResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Store.DeleteAddress(ctx, id, req.Address); err != nil {
		return nil, err
	}
	return api.DeleteAddress204Response{}, nil
}
