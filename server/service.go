package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// GetHealth answers 200 when the store answers within 2 seconds.
func (h *Handlers) GetHealth(ctx context.Context, _ api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	ctx = reqCtx(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := h.svc.Store.ListUsers(ctx, "", 1); err != nil {
		h.log.Error("health check: store", "err", err)
		return api.GetHealth503JSONResponse{Status: "store unavailable"}, nil
	}
	return api.GetHealth200JSONResponse{Status: "ok"}, nil
}

// GetMetrics renders the request metrics.
func (h *Handlers) GetMetrics(context.Context, api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	return api.GetMetrics200TextResponse(h.metrics.render()), nil
}

// Authenticate exchanges a login and password for a token. Failures are
// counted per client address (Options.LoginLimiter, shared by every
// instance when it is Redis's); past the limit the answer is 429 without
// checking the password, so guessing is throttled across logins. A
// limiter error (Redis away) is logged and does not refuse the login.
func (h *Handlers) Authenticate(ctx context.Context, req api.AuthenticateRequestObject) (api.AuthenticateResponseObject, error) {
	ctx = reqCtx(ctx)
	key := "?"
	if r := requestOf(ctx); r != nil {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			key = host
		}
	}
	left, blocked, err := h.limiter.Blocked(ctx, key)
	if err != nil {
		h.log.Warn("http login limiter", "err", err)
	}
	if blocked {
		secs := int(left/time.Second) + 1
		return nil, &apiError{status: 429, code: api.ProblemCodeRateLimited, detail: fmt.Sprintf("too many failed logins; retry in %d s", secs), retryAfter: secs}
	}
	u, err := h.svc.Authenticate(ctx, strings.TrimSpace(req.Body.Username), req.Body.Password)
	if errors.Is(err, store.ErrAuthFailed) || errors.Is(err, store.ErrUserDisabled) {
		if _, err := h.limiter.Fail(ctx, key); err != nil {
			h.log.Warn("http login limiter", "err", err)
		}
		return nil, errUnauthorized("wrong username or password")
	}
	if err != nil {
		return nil, err
	}
	if err := h.limiter.Succeed(ctx, key); err != nil {
		h.log.Warn("http login limiter", "err", err)
	}
	tok, exp := h.tokens.issue(u)
	return api.Authenticate200JSONResponse{Token: tok, Expires: exp.UTC(), User: u.ID}, nil
}

// RevokeTokens voids every token of the caller issued until now, on every
// instance: the time is stored with the user and checked by authenticate.
func (h *Handlers) RevokeTokens(ctx context.Context, _ api.RevokeTokensRequestObject) (api.RevokeTokensResponseObject, error) {
	ctx = reqCtx(ctx)
	p := who(ctx)
	if p == nil || p.admin {
		return nil, &apiError{status: 403, code: api.ProblemCodeForbidden, detail: "the admin token comes from the configuration and cannot be revoked"}
	}
	now := time.Now()
	if _, err := h.svc.Store.UpdateUser(ctx, p.userID, store.UserUpdate{TokensRevoked: &now}); err != nil {
		return nil, fmt.Errorf("revoke tokens: %w", err)
	}
	return api.RevokeTokens204Response{}, nil
}
