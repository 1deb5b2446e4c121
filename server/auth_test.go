package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/server"
)

func TestAuthenticateAndScope(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	aliceID, aliceTok := e.user("alice", "correct horse", "alice@example.com")
	bobID, bobTok := e.user("bob", "battery staple", "bob@example.com")
	alice, bob, anon := e.client(aliceTok), e.client(bobTok), e.client("")

	// An address logs in as well as the username.
	a, err := anon.AuthenticateWithResponse(ctx, api.AuthRequest{Username: "ALICE@example.com", Password: "correct horse"})
	if err != nil || a.JSON200 == nil || a.JSON200.User != aliceID {
		t.Fatalf("login by address: %v %s", err, a.Body)
	}
	if !a.JSON200.Expires.After(time.Now().Add(23*time.Hour)) || a.JSON200.Token == "" {
		t.Fatalf("token %+v", a.JSON200)
	}

	// Wrong password, unknown user: the same 401.
	for _, req := range []api.AuthRequest{{Username: "alice", Password: "wrong"}, {Username: "nobody", Password: "x"}} {
		r, err := anon.AuthenticateWithResponse(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if c := problemCode(t, r.StatusCode(), r.Body, 401); c != "unauthorized" {
			t.Fatalf("code %q", c)
		}
	}

	// me is the token's user.
	me, err := alice.GetUserWithResponse(ctx, "me")
	if err != nil || me.JSON200 == nil || me.JSON200.Id != aliceID || me.JSON200.Username != "alice" {
		t.Fatalf("me: %v %s", err, me.Body)
	}
	if me.JSON200.Address == nil || *me.JSON200.Address != "alice@example.com" {
		t.Fatalf("main address %v", me.JSON200.Address)
	}

	// No token, a forged token, a garbage token: 401.
	for _, c := range []*api.ClientWithResponses{anon, e.client(aliceTok[:len(aliceTok)-2] + "AA"), e.client("garbage")} {
		r, err := c.GetUserWithResponse(ctx, "me")
		if err != nil {
			t.Fatal(err)
		}
		problemCode(t, r.StatusCode(), r.Body, 401)
	}

	// Alice cannot reach Bob, nor learn whether an id exists: 403 for both.
	for _, id := range []string{bobID, "999999", "no-such-user"} {
		r, err := alice.GetUserWithResponse(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c := problemCode(t, r.StatusCode(), r.Body, 403); c != "forbidden" {
			t.Fatalf("code %q", c)
		}
		l, _ := alice.ListMailboxesWithResponse(ctx, id)
		problemCode(t, l.StatusCode(), l.Body, 403)
	}
	// User administration needs the admin token.
	if r, _ := bob.ListUsersWithResponse(ctx, nil); r.StatusCode() != 403 {
		t.Fatalf("user lists users: %d", r.StatusCode())
	}
	if r, _ := bob.CreateUserWithResponse(ctx, api.UserCreate{Username: "mallory", Password: "x"}); r.StatusCode() != 403 {
		t.Fatalf("user creates user: %d", r.StatusCode())
	}
	if r, _ := bob.DeleteUserWithResponse(ctx, "me"); r.StatusCode() != 403 {
		t.Fatalf("user deletes itself: %d", r.StatusCode())
	}
	q := int64(1)
	if r, _ := bob.UpdateUserWithResponse(ctx, "me", api.UserUpdate{Quota: &q}); r.StatusCode() != 403 {
		t.Fatalf("user raises own quota: %d", r.StatusCode())
	}
	// The admin reaches Bob; "me" means nothing for the admin.
	if r, _ := e.admin.GetUserWithResponse(ctx, bobID); r.JSON200 == nil || r.JSON200.Username != "bob" {
		t.Fatalf("admin get bob: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := e.admin.GetUserWithResponse(ctx, "me"); r.StatusCode() != 400 {
		t.Fatalf("admin me: %d", r.StatusCode())
	}

	// A password change revokes the tokens issued before it.
	pw := "new password"
	if r, _ := bob.UpdateUserWithResponse(ctx, "me", api.UserUpdate{Password: &pw}); r.JSON200 == nil {
		t.Fatalf("change password: %d %s", r.StatusCode(), r.Body)
	}
	r, _ := bob.GetUserWithResponse(ctx, "me")
	problemCode(t, r.StatusCode(), r.Body, 401)
	if a, _ := anon.AuthenticateWithResponse(ctx, api.AuthRequest{Username: "bob", Password: pw}); a.JSON200 == nil {
		t.Fatalf("login with new password: %d", a.StatusCode())
	}

	// A disabled user's token stops working.
	dis := true
	if r, _ := e.admin.UpdateUserWithResponse(ctx, aliceID, api.UserUpdate{Disabled: &dis}); r.JSON200 == nil || !r.JSON200.Disabled {
		t.Fatalf("disable: %d %s", r.StatusCode(), r.Body)
	}
	r, _ = alice.GetUserWithResponse(ctx, "me")
	problemCode(t, r.StatusCode(), r.Body, 401)
}

func TestTokensWorkAcrossInstances(t *testing.T) {
	// Two servers on one store with the same secret: a token from one works
	// on the other (stateless instances); another secret rejects it.
	e := newEnv(t, func(o *server.Options) { o.TokenSecret = "shared-secret-0123456789" })
	_, tok := e.user("carol", "pw", "")
	for secret, want := range map[string]int{"shared-secret-0123456789": 200, "other-secret-0123456789": 401} {
		h, err := server.New(e.svc, server.Options{TokenSecret: secret})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("secret %s: %d, want %d: %s", secret, rec.Code, want, rec.Body)
		}
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxLoginFailures = 3 })
	e.user("dave", "right", "")
	anon := e.client("")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r, _ := anon.AuthenticateWithResponse(ctx, api.AuthRequest{Username: "dave", Password: "wrong"})
		problemCode(t, r.StatusCode(), r.Body, 401)
	}
	// Now even the right password is refused until the window passes.
	r, err := anon.AuthenticateWithResponse(ctx, api.AuthRequest{Username: "dave", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	if c := problemCode(t, r.StatusCode(), r.Body, 429); c != "rate-limited" {
		t.Fatalf("code %q", c)
	}
	if ra := r.HTTPResponse.Header.Get("Retry-After"); ra == "" || strings.HasPrefix(ra, "0") {
		t.Fatalf("Retry-After %q", ra)
	}
}

func TestSecretKeptInDataDir(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	h1, err := server.New(e.svc, server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e.user("vera", "pw", "")
	req, _ := http.NewRequest("POST", "/authenticate", strings.NewReader(`{"username":"vera","password":"pw"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := newRecorder()
	h1.ServeHTTP(rec, req)
	var a api.AuthResult
	if err := jsonUnmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != 200 {
		t.Fatalf("authenticate: %d %s", rec.Code, rec.Body)
	}
	fi, err := os.Stat(filepath.Join(dir, "api-token.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, fi)
	}
	// A restarted instance on the same data directory accepts the token.
	h2, err := server.New(e.svc, server.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", "/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+a.Token)
	rec = newRecorder()
	h2.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("after restart: %d %s", rec.Code, rec.Body)
	}
	// Weak settings are refused at start.
	if _, err := server.New(e.svc, server.Options{DataDir: dir, AdminToken: "short"}); err == nil {
		t.Error("a 5-character admin token was accepted")
	}
	if _, err := server.New(e.svc, server.Options{TokenSecret: "short"}); err == nil {
		t.Error("a 5-character token secret was accepted")
	}
	if _, err := server.New(e.svc, server.Options{}); err == nil {
		t.Error("no secret and no data directory was accepted")
	}
}

// DELETE /authenticate voids every token of the caller issued until then,
// also on another instance sharing the store; later tokens work, and the
// admin token cannot be revoked.
func TestRevokeTokens(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok1 := e.user("rhea", "pw", "rhea@example.com")
	login := func() string {
		r, err := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "rhea", Password: "pw"})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("login: %v %s", err, r.Body)
		}
		return r.JSON200.Token
	}
	tok2 := login()
	// A second instance on the same store (and token secret).
	h2, err := server.New(e.svc, server.Options{AdminToken: adminToken, DataDir: e.dataDir})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(h2)
	defer srv2.Close()
	other := &env{t: t, svc: e.svc, url: srv2.URL}
	if r, _ := other.client(tok2).GetUserWithResponse(ctx, "me"); r.StatusCode() != 200 {
		t.Fatalf("token on the second instance before revocation: %d", r.StatusCode())
	}

	r, err := e.client(tok1).RevokeTokensWithResponse(ctx)
	if err != nil || r.StatusCode() != 204 {
		t.Fatalf("revoke: %v %d %s", err, r.StatusCode(), r.Body)
	}
	for _, c := range []*api.ClientWithResponses{e.client(tok1), e.client(tok2), other.client(tok1), other.client(tok2)} {
		g, _ := c.GetUserWithResponse(ctx, "me")
		problemCode(t, g.StatusCode(), g.Body, 401)
	}
	tok3 := login()
	if g, _ := other.client(tok3).GetUserWithResponse(ctx, "me"); g.StatusCode() != 200 {
		t.Fatalf("a token issued after the revocation: %d %s", g.StatusCode(), g.Body)
	}
	a, _ := e.admin.RevokeTokensWithResponse(ctx)
	problemCode(t, a.StatusCode(), a.Body, 403)
	n, _ := e.client("").RevokeTokensWithResponse(ctx)
	problemCode(t, n.StatusCode(), n.Body, 401)
}
