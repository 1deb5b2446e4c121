package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// testJournalSource: the ChangeExists entries of COPY and MOVE name the
// source mailbox and UID (and Moved for a move); an append names none.
func testJournalSource(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("src")
	in := h.mailbox(u, "INBOX")
	dst := h.mailbox(u, "Dest")
	h.appendN(u, in, 3)
	start, err := s.LastChange(ctx, u.ID)
	noErr(t, "LastChange", err)
	_, err = s.Copy(ctx, u.ID, in.ID, set(1), dst.ID)
	noErr(t, "Copy", err)
	_, err = s.Move(ctx, u.ID, in.ID, set(2), dst.ID)
	noErr(t, "Move", err)
	h.append(u, dst, spec{Subject: "plain"})
	chs, err := s.Changes(ctx, u.ID, "", start, 0)
	noErr(t, "Changes", err)
	var exists []store.Change
	for _, c := range chs {
		if c.Kind == store.ChangeExists {
			exists = append(exists, c)
		}
	}
	if len(exists) != 3 {
		t.Fatalf("want 3 exists entries, got %s", describe(chs))
	}
	if c := exists[0]; c.SourceMailboxID != in.ID || c.SourceUID != 1 || c.Moved || c.MailboxID != dst.ID {
		t.Fatalf("copy entry: %+v", c)
	}
	if c := exists[1]; c.SourceMailboxID != in.ID || c.SourceUID != 2 || !c.Moved || c.MailboxID != dst.ID {
		t.Fatalf("move entry: %+v", c)
	}
	if c := exists[2]; c.SourceMailboxID != "" || c.SourceUID != 0 || c.Moved {
		t.Fatalf("append entry names a source: %+v", c)
	}
}

// testWebhooks: create, get, list, delete, and the per-user cursors.
func testWebhooks(t *testing.T, h *harness) {
	ws, ok := h.s.(store.WebhookStore)
	if !ok {
		t.Fatalf("%T does not implement store.WebhookStore", h.s)
	}
	ctx := h.ctx
	if _, err := ws.CreateWebhook(ctx, store.NewWebhook{URL: "https://x.example/"}); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("CreateWebhook without secret: %v, want ErrInvalidInput", err)
	}
	a, err := ws.CreateWebhook(ctx, store.NewWebhook{URL: "https://a.example/hook", Secret: "s1",
		Events: []string{"message.junk", "message.notjunk"}, Users: []string{"u1"}})
	noErr(t, "CreateWebhook a", err)
	b, err := ws.CreateWebhook(ctx, store.NewWebhook{URL: "https://b.example/hook", Secret: "s2"})
	noErr(t, "CreateWebhook b", err)
	if a.ID == "" || a.ID == b.ID || a.Created.IsZero() {
		t.Fatalf("created %+v %+v", a, b)
	}
	g, err := ws.GetWebhook(ctx, a.ID)
	noErr(t, "GetWebhook", err)
	if g.URL != a.URL || g.Secret != "s1" || !slices.Equal(g.Events, a.Events) || !slices.Equal(g.Users, []string{"u1"}) {
		t.Fatalf("GetWebhook = %+v, want %+v", g, a)
	}
	if g, err := ws.GetWebhook(ctx, b.ID); err != nil || len(g.Events) != 0 || len(g.Users) != 0 {
		t.Fatalf("GetWebhook b = %+v, %v (want no filters)", g, err)
	}
	if _, err := ws.GetWebhook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetWebhook(unknown) = %v", err)
	}
	l, err := ws.ListWebhooks(ctx)
	noErr(t, "ListWebhooks", err)
	if len(l) != 2 || l[0].ID > l[1].ID {
		t.Fatalf("ListWebhooks = %+v", l)
	}

	if _, ok, err := ws.WebhookCursor(ctx, a.ID, "u1"); err != nil || ok {
		t.Fatalf("fresh cursor: ok=%v err=%v", ok, err)
	}
	noErr(t, "SetWebhookCursor", ws.SetWebhookCursor(ctx, a.ID, "u1", 7))
	noErr(t, "SetWebhookCursor again", ws.SetWebhookCursor(ctx, a.ID, "u1", 9))
	noErr(t, "SetWebhookCursor u2", ws.SetWebhookCursor(ctx, a.ID, "u2", 3))
	if seq, ok, err := ws.WebhookCursor(ctx, a.ID, "u1"); err != nil || !ok || seq != 9 {
		t.Fatalf("cursor u1 = %d %v %v, want 9", seq, ok, err)
	}
	if seq, ok, err := ws.WebhookCursor(ctx, a.ID, "u2"); err != nil || !ok || seq != 3 {
		t.Fatalf("cursor u2 = %d %v %v, want 3", seq, ok, err)
	}
	if _, ok, _ := ws.WebhookCursor(ctx, b.ID, "u1"); ok {
		t.Fatal("cursor of a leaked into b")
	}

	noErr(t, "DeleteWebhook", ws.DeleteWebhook(ctx, a.ID))
	if err := ws.DeleteWebhook(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteWebhook twice = %v", err)
	}
	if _, err := ws.GetWebhook(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetWebhook(deleted) = %v", err)
	}
	if _, ok, err := ws.WebhookCursor(ctx, a.ID, "u1"); err != nil || ok {
		t.Fatalf("cursor survived its webhook: ok=%v err=%v", ok, err)
	}
	if err := ws.SetWebhookCursor(ctx, a.ID, "u1", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetWebhookCursor(deleted) = %v", err)
	}
	noErr(t, "DeleteWebhook b", ws.DeleteWebhook(ctx, b.ID))
}
