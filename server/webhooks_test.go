package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/server/webhook"
)

// TestWebhooksAPI: an admin creates, lists, gets and deletes a webhook
// through the API (every answer validated against the contract); the
// webhook created so receives a signed POST from a dispatcher, which stops
// driving it once it is deleted. Users cannot manage webhooks, and bad
// input is refused.
func TestWebhooksAPI(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("web", "secret-pass-1", "")
	ctx := context.Background()
	type hit struct {
		sig  string
		body []byte
	}
	hits := make(chan hit, 100)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get(webhook.HeaderSignature), b}
	}))
	t.Cleanup(recv.Close)
	const secret = "a-secret-of-enough-length"

	// Refusals.
	if r, err := e.client(tok).CreateWebhookWithResponse(ctx, api.WebhookCreate{Url: recv.URL, Secret: secret}); err != nil || r.StatusCode() != http.StatusForbidden {
		t.Fatalf("user creates webhook: %v %d", err, r.StatusCode())
	}
	if r, err := e.client(tok).ListWebhooksWithResponse(ctx); err != nil || r.StatusCode() != http.StatusForbidden {
		t.Fatalf("user lists webhooks: %v %d", err, r.StatusCode())
	}
	bad := []api.WebhookCreate{
		{Url: "ftp://example.com/x", Secret: secret},
		{Url: recv.URL, Secret: "short"},
		{Url: recv.URL, Secret: secret, Events: &[]string{"message.nonsense"}},
		{Url: recv.URL, Secret: secret, Users: &[]string{"no-such-user"}},
	}
	for _, b := range bad {
		r, err := e.admin.CreateWebhookWithResponse(ctx, b)
		if err != nil || r.StatusCode() != http.StatusBadRequest {
			t.Fatalf("create %+v: %v %d, want 400", b, err, r.StatusCode())
		}
	}

	cr, err := e.admin.CreateWebhookWithResponse(ctx, api.WebhookCreate{Url: recv.URL, Secret: secret,
		Events: &[]string{string(api.MessageCreated)}, Users: &[]string{uid}})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create webhook: %v %d %s", err, cr.StatusCode(), cr.Body)
	}
	w := cr.JSON201
	if w.Url != recv.URL || len(w.Events) != 1 || len(w.Users) != 1 || strings.Contains(string(cr.Body), secret) {
		t.Fatalf("created %s", cr.Body)
	}
	if loc := cr.HTTPResponse.Header.Get("Location"); loc != "/webhooks/"+w.Id {
		t.Fatalf("Location %q", loc)
	}
	if l, err := e.admin.ListWebhooksWithResponse(ctx); err != nil || l.JSON200 == nil || len(l.JSON200.Webhooks) != 1 || l.JSON200.Webhooks[0].Id != w.Id {
		t.Fatalf("list webhooks: %v %s", err, l.Body)
	}
	if g, err := e.admin.GetWebhookWithResponse(ctx, w.Id); err != nil || g.JSON200 == nil || g.JSON200.Url != recv.URL {
		t.Fatalf("get webhook: %v %s", err, g.Body)
	}

	// Delivery by a dispatcher over the same store.
	logs := make(chan string, 1000)
	st, _ := e.svc.Store.(webhook.Store)
	d, err := webhook.New(webhook.Options{Store: st, Leases: &webhook.Local{}, Poll: 20 * time.Millisecond, Logger: mailtest.LogTap(logs)})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	c := e.client(tok)
	m := e.upload(c, e.mailbox(c, "INBOX"), []byte("Subject: hook\r\n\r\nx\r\n"))
	select {
	case h := <-hits:
		if !webhook.Verify(secret, h.body, h.sig) {
			t.Fatalf("signature %q does not verify", h.sig)
		}
		// The body follows the contract's WebhookDelivery schema.
		var v any
		if err := json.Unmarshal(h.body, &v); err != nil {
			t.Fatal(err)
		}
		if err := contractDoc(t).Components.Schemas["WebhookDelivery"].Value.VisitJSON(v); err != nil {
			t.Fatalf("delivery %s against the contract: %v", h.body, err)
		}
		var dl webhook.Delivery
		if err := json.Unmarshal(h.body, &dl); err != nil || dl.Event.Type != api.MessageCreated || *dl.Event.Message != m.Id || dl.User != uid || dl.Webhook != w.Id {
			t.Fatalf("delivery %s: %v", h.body, err)
		}
	case <-time.After(eventWait):
		t.Fatal("no webhook POST")
	}

	if r, err := e.admin.DeleteWebhookWithResponse(ctx, w.Id); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete webhook: %v %d", err, r.StatusCode())
	}
	if g, err := e.admin.GetWebhookWithResponse(ctx, w.Id); err != nil || g.StatusCode() != http.StatusNotFound {
		t.Fatalf("get deleted webhook: %v %d", err, g.StatusCode())
	}
	if r, err := e.admin.DeleteWebhookWithResponse(ctx, w.Id); err != nil || r.StatusCode() != http.StatusNotFound {
		t.Fatalf("delete twice: %v %d", err, r.StatusCode())
	}
	deadline := time.After(eventWait)
	for {
		select {
		case msg := <-logs:
			if msg == "webhook: deleted, stopping" {
				return
			}
		case <-deadline:
			t.Fatal("the dispatcher did not stop driving the deleted webhook")
		}
	}
}
