package server_test

// Two API instances on one store sharing failed-login counts through a real
// Redis (the distributed mode).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/cluster/clustertest"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/server"
)

func TestLoginRateLimitAcrossInstances(t *testing.T) {
	ca, cb := clustertest.Two(t, "http")
	const secret = "shared-secret-0123456789"
	a := newEnv(t, func(o *server.Options) {
		o.TokenSecret, o.LoginLimiter = secret, ca.LoginLimiter(3, time.Minute)
	})
	h, err := server.New(a.svc, server.Options{TokenSecret: secret, LoginLimiter: cb.LoginLimiter(3, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &env{t: t, svc: a.svc, url: srv.URL}
	a.user("dave", "right", "")
	ctx := context.Background()
	for _, e := range []*env{a, a, b} {
		r, err := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "dave", Password: "wrong"})
		if err != nil {
			t.Fatal(err)
		}
		problemCode(t, r.StatusCode(), r.Body, 401)
	}
	// The third failure was on B: both now refuse even the right password.
	for _, e := range []*env{a, b} {
		r, err := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "dave", Password: "right"})
		if err != nil {
			t.Fatal(err)
		}
		if c := problemCode(t, r.StatusCode(), r.Body, 429); c != "rate-limited" {
			t.Fatalf("code %q", c)
		}
		if ra := r.HTTPResponse.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
	}
	// The refusal is the shared limiter's: an instance with its own
	// in-process limiter lets dave in.
	h2, err := server.New(a.svc, server.Options{TokenSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	t.Cleanup(srv2.Close)
	c := &env{t: t, svc: a.svc, url: srv2.URL}
	r, err := c.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "dave", Password: "right"})
	if err != nil || r.JSON200 == nil {
		t.Fatalf("login on an instance without the shared limiter: %v %d %s", err, r.StatusCode(), r.Body)
	}
}

// TestUpdatesTicketSingleUseAcrossInstances: with the nonces shared in
// Redis (mail/cluster), a ticket that opened a stream on instance A is
// refused on instance B; with per-instance nonces B would accept it.
func TestUpdatesTicketSingleUseAcrossInstances(t *testing.T) {
	ca, cb := clustertest.Two(t, "http")
	const secret = "shared-secret-0123456789"
	a := newEnv(t, func(o *server.Options) { o.TokenSecret, o.TicketNonces = secret, ca.Nonces() })
	h, err := server.New(a.svc, server.Options{TokenSecret: secret, TicketNonces: cb.Nonces()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b := &env{t: t, svc: a.svc, url: srv.URL}
	_, tok := a.user("tess", "secret-pass-1", "")
	ctx := context.Background()
	tr, err := a.client(tok).CreateUpdatesTicketWithResponse(ctx, "me")
	if err != nil || tr.JSON201 == nil {
		t.Fatalf("ticket: %v", err)
	}
	origin := func(e *env) http.Header { return http.Header{"Origin": {e.url}} }
	ws, _, err := a.wsDial("", "?ticket="+tr.JSON201.Ticket, origin(a))
	if err != nil {
		t.Fatalf("ticket on A: %v", err)
	}
	defer ws.Close()
	if _, resp, err := b.wsDial("", "?ticket="+tr.JSON201.Ticket, origin(b)); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ticket used on A accepted again on B: %v", err)
	}
	// A fresh ticket (issued by A) opens a stream on B, once.
	tr2, _ := a.client(tok).CreateUpdatesTicketWithResponse(ctx, "me")
	ws2, _, err := b.wsDial("", "?ticket="+tr2.JSON201.Ticket, origin(b))
	if err != nil {
		t.Fatalf("fresh ticket on B: %v", err)
	}
	ws2.Close()
	if _, resp, err := a.wsDial("", "?ticket="+tr2.JSON201.Ticket, origin(a)); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("ticket used on B accepted again on A: %v", err)
	}
}
