package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eidermail/eider/api"
)

func TestUsersAndAddresses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	quota := int64(1 << 20)
	addr := "jürgen@bücher.example"
	r, err := e.admin.CreateUserWithResponse(ctx, api.UserCreate{Username: "jürgen", Password: "pw", Quota: &quota, Address: &addr})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("create: %v %d %s", err, r.StatusCode(), r.Body)
	}
	u := r.JSON201
	if u.Quota.Limit != quota || u.Quota.Used != 0 || len(u.Addresses) != 1 || !u.Addresses[0].Main || u.Addresses[0].Address != addr {
		t.Fatalf("created %+v", u)
	}
	if loc := r.HTTPResponse.Header.Get("Location"); loc != "/users/"+u.Id {
		t.Fatalf("Location %q", loc)
	}
	// The same username or address again: 409.
	dup, _ := e.admin.CreateUserWithResponse(ctx, api.UserCreate{Username: "JÜRGEN", Password: "pw"})
	if c := problemCode(t, dup.StatusCode(), dup.Body, 409); c != "exists" {
		t.Fatalf("code %q", c)
	}
	// The IDN domain in ASCII form logs in too.
	a, _ := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "jürgen@xn--bcher-kva.example", Password: "pw"})
	if a.JSON200 == nil || a.JSON200.User != u.Id {
		t.Fatalf("punycode login: %d %s", a.StatusCode(), a.Body)
	}
	c := e.client(a.JSON200.Token)

	// Addresses: add (unicode local part), list, make main, delete.
	second := "ünïcode.läuft@例え.テスト"
	ar, _ := c.CreateAddressWithResponse(ctx, "me", api.AddressCreate{Address: second})
	if ar.JSON201 == nil || ar.JSON201.Main || ar.JSON201.Address != second {
		t.Fatalf("add address: %d %s", ar.StatusCode(), ar.Body)
	}
	taken, _ := c.CreateAddressWithResponse(ctx, "me", api.AddressCreate{Address: "JÜRGEN@BÜCHER.EXAMPLE"})
	problemCode(t, taken.StatusCode(), taken.Body, 409)
	bad, _ := c.CreateAddressWithResponse(ctx, "me", api.AddressCreate{Address: "no-at-sign"})
	if code := problemCode(t, bad.StatusCode(), bad.Body, 400); code != "invalid-input" || bad.ApplicationproblemJSON400.Field == nil || *bad.ApplicationproblemJSON400.Field != "address" {
		t.Fatalf("code %q: %s", code, bad.Body)
	}
	mainDel, _ := c.DeleteAddressWithResponse(ctx, "me", u.Addresses[0].Id)
	if code := problemCode(t, mainDel.StatusCode(), mainDel.Body, 409); code != "main-address" {
		t.Fatalf("code %q", code)
	}
	up, _ := c.UpdateAddressWithResponse(ctx, "me", ar.JSON201.Id, api.AddressUpdate{Main: true})
	if up.JSON200 == nil || !up.JSON200.Main {
		t.Fatalf("set main: %d %s", up.StatusCode(), up.Body)
	}
	if d, _ := c.DeleteAddressWithResponse(ctx, "me", u.Addresses[0].Id); d.StatusCode() != 204 {
		t.Fatalf("delete old main: %d %s", d.StatusCode(), d.Body)
	}
	l, _ := c.ListAddressesWithResponse(ctx, "me")
	if l.JSON200 == nil || len(l.JSON200.Addresses) != 1 || l.JSON200.Addresses[0].Address != second || !l.JSON200.Addresses[0].Main {
		t.Fatalf("addresses now %s", l.Body)
	}

	// Quota: admin changes it, storage follows uploads, recount agrees.
	q2 := int64(2 << 20)
	uu, _ := e.admin.UpdateUserWithResponse(ctx, u.Id, api.UserUpdate{Quota: &q2})
	if uu.JSON200 == nil || uu.JSON200.Quota.Limit != q2 {
		t.Fatalf("quota: %s", uu.Body)
	}
	raw := []byte("From: a@example.com\r\nSubject: q\r\n\r\nhello\r\n")
	e.upload(c, e.mailbox(c, "INBOX"), raw)
	rq, _ := c.RecountQuotaWithResponse(ctx, "me")
	if rq.JSON200 == nil || rq.JSON200.Used != int64(len(raw)) || rq.JSON200.Limit != q2 {
		t.Fatalf("recount: %s", rq.Body)
	}

	// List users, paginated.
	for _, n := range []string{"u1", "u2", "u3"} {
		e.user(n, "pw", "")
	}
	seen := map[string]bool{}
	var cur *string
	pages := 0
	for {
		lim := 2
		lr, _ := e.admin.ListUsersWithResponse(ctx, &api.ListUsersParams{Limit: &lim, Cursor: cur})
		if lr.JSON200 == nil {
			t.Fatalf("list users: %d %s", lr.StatusCode(), lr.Body)
		}
		pages++
		for _, u := range lr.JSON200.Users {
			if seen[u.Username] {
				t.Fatalf("user %s twice", u.Username)
			}
			seen[u.Username] = true
		}
		if cur = lr.JSON200.NextCursor; cur == nil {
			break
		}
	}
	if len(seen) != 4 || pages != 2 {
		t.Fatalf("listed %v in %d pages", seen, pages)
	}

	// Delete: the user and its token are gone.
	if d, _ := e.admin.DeleteUserWithResponse(ctx, u.Id); d.StatusCode() != 204 {
		t.Fatalf("delete: %d", d.StatusCode())
	}
	g, _ := e.admin.GetUserWithResponse(ctx, u.Id)
	if code := problemCode(t, g.StatusCode(), g.Body, 404); code != "not-found" {
		t.Fatalf("code %q", code)
	}
	g, _ = c.GetUserWithResponse(ctx, "me")
	problemCode(t, g.StatusCode(), g.Body, 401)
}

func TestMailboxes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("erin", "pw", "erin@example.com")
	c := e.client(tok)
	l, _ := c.ListMailboxesWithResponse(ctx, "me")
	if l.JSON200 == nil {
		t.Fatal(l.StatusCode())
	}
	special := map[string]string{}
	for _, m := range l.JSON200.Mailboxes {
		if m.SpecialUse != nil {
			special[m.Path] = string(*m.SpecialUse)
		}
	}
	if special["Sent Mail"] != `\Sent` || special["Trash"] != `\Trash` || special["Junk"] != `\Junk` || len(l.JSON200.Mailboxes) != 5 {
		t.Fatalf("default mailboxes %s", l.Body)
	}

	mk := func(path string) api.Mailbox {
		r, _ := c.CreateMailboxWithResponse(ctx, "me", api.MailboxCreate{Path: path})
		if r.JSON201 == nil {
			t.Fatalf("create %s: %d %s", path, r.StatusCode(), r.Body)
		}
		return *r.JSON201
	}
	proj := mk("Projects")
	child := mk("Projects/Eider")
	if child.Name != "Eider" || child.Path != "Projects/Eider" || !child.Subscribed {
		t.Fatalf("child %+v", child)
	}
	if r, _ := c.CreateMailboxWithResponse(ctx, "me", api.MailboxCreate{Path: "Projects"}); r.StatusCode() != 409 {
		t.Fatalf("duplicate: %d", r.StatusCode())
	}
	r, _ := c.CreateMailboxWithResponse(ctx, "me", api.MailboxCreate{Path: "Nope/Child"})
	problemCode(t, r.StatusCode(), r.Body, 400)

	// Rename: the child follows.
	np := "Work"
	ur, _ := c.UpdateMailboxWithResponse(ctx, "me", proj.Id, api.MailboxUpdate{Path: &np})
	if ur.JSON200 == nil || ur.JSON200.Path != "Work" {
		t.Fatalf("rename: %d %s", ur.StatusCode(), ur.Body)
	}
	g, _ := c.GetMailboxWithResponse(ctx, "me", child.Id)
	if g.JSON200 == nil || g.JSON200.Path != "Work/Eider" {
		t.Fatalf("child after rename: %s", g.Body)
	}
	// Unsubscribe.
	no := false
	ur, _ = c.UpdateMailboxWithResponse(ctx, "me", child.Id, api.MailboxUpdate{Subscribed: &no})
	if ur.JSON200 == nil || ur.JSON200.Subscribed {
		t.Fatalf("unsubscribe: %s", ur.Body)
	}

	// Counters follow uploads and flags.
	e.upload(c, child.Id, []byte("Subject: a\r\n\r\none\r\n"))
	e.upload(c, child.Id, []byte("Subject: b\r\n\r\ntwo\r\n"), `\Seen`)
	g, _ = c.GetMailboxWithResponse(ctx, "me", child.Id)
	if m := g.JSON200; m == nil || m.Total != 2 || m.Unseen != 1 || m.Size != int64(len("Subject: a\r\n\r\none\r\n")*2) {
		t.Fatalf("counters %s", g.Body)
	}

	// Deletes: special use and parents refused with their codes.
	d, _ := c.DeleteMailboxWithResponse(ctx, "me", e.mailbox(c, "Trash"))
	if code := problemCode(t, d.StatusCode(), d.Body, 409); code != "special-use" {
		t.Fatalf("code %q", code)
	}
	d, _ = c.DeleteMailboxWithResponse(ctx, "me", e.mailbox(c, "INBOX"))
	problemCode(t, d.StatusCode(), d.Body, 409)
	d, _ = c.DeleteMailboxWithResponse(ctx, "me", proj.Id)
	if code := problemCode(t, d.StatusCode(), d.Body, 409); code != "has-children" {
		t.Fatalf("code %q", code)
	}
	if d, _ := c.DeleteMailboxWithResponse(ctx, "me", child.Id); d.StatusCode() != 204 {
		t.Fatalf("delete child: %d", d.StatusCode())
	}
	g, _ = c.GetMailboxWithResponse(ctx, "me", child.Id)
	problemCode(t, g.StatusCode(), g.Body, 404)

	// Another user's mailbox id under one's own path: 404, nothing learnt.
	_, tok2 := e.user("frank", "pw", "")
	g, _ = e.client(tok2).GetMailboxWithResponse(ctx, "me", proj.Id)
	problemCode(t, g.StatusCode(), g.Body, 404)
}

func TestContractValidation(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("gina", "pw", "")
	hc := e.httpClient()
	do := func(method, path, ct, body string) (int, []byte) {
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	inbox := e.mailbox(e.client(tok), "INBOX")
	for _, tc := range []struct {
		name, method, path, ct, body string
		status                       int
		field                        string
	}{
		{"limit too large", "GET", "/users/me/mailboxes/" + inbox + "/messages?limit=251", "", "", 400, "limit"},
		{"limit zero", "GET", "/users/me/mailboxes/" + inbox + "/messages?limit=0", "", "", 400, "limit"},
		{"limit not a number", "GET", "/users/me/mailboxes/" + inbox + "/messages?limit=ten", "", "", 400, "limit"},
		{"bad cursor", "GET", "/users/me/mailboxes/" + inbox + "/messages?cursor=!!", "", "", 400, "cursor"},
		{"unknown body field", "POST", "/users/me/mailboxes", "application/json", `{"path":"X","colour":"red"}`, 400, ""},
		{"missing required", "POST", "/users/me/mailboxes", "application/json", `{}`, 400, ""},
		{"wrong type", "PATCH", "/users/me/mailboxes/" + inbox, "application/json", `{"subscribed":"yes"}`, 400, ""},
		{"not json", "POST", "/users/me/mailboxes", "application/json", `{"path":`, 400, ""},
		{"wrong content type", "POST", "/users/me/mailboxes", "text/plain", `path=X`, 400, ""},
		{"empty patch", "PATCH", "/users/me/mailboxes/" + inbox, "application/json", `{}`, 400, ""},
		{"bad flag", "POST", "/users/me/mailboxes/" + inbox + "/messages?flag=%5CBogus", "message/rfc822", "Subject: x\r\n\r\nx\r\n", 400, "flag"},
		{"empty message", "POST", "/users/me/mailboxes/" + inbox + "/messages", "message/rfc822", "", 400, "body"},
		{"message as json", "POST", "/users/me/mailboxes/" + inbox + "/messages", "application/json", "{}", 400, ""},
		{"bad date", "GET", "/users/me/search?since=yesterday", "", "", 400, "since"},
		{"bad attachment id", "GET", "/users/me/mailboxes/" + inbox + "/messages/1/attachments/../../x", "", "", 404, ""},
		{"no such route", "GET", "/nope", "", "", 404, ""},
		{"wrong method", "PUT", "/users/me", "application/json", "{}", 405, ""},
	} {
		status, body := do(tc.method, tc.path, tc.ct, tc.body)
		if status != tc.status || !strings.Contains(string(body), `"status":`) {
			t.Errorf("%s: %d %s, want %d problem", tc.name, status, body, tc.status)
			continue
		}
		if tc.field != "" && !strings.Contains(string(body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s does not name field %s", tc.name, body, tc.field)
		}
	}
	// Nothing half-applied: no mailbox X was created by the refused requests.
	l, _ := e.client(tok).ListMailboxesWithResponse(context.Background(), "me")
	if len(l.JSON200.Mailboxes) != 5 {
		t.Fatalf("mailboxes after refused requests: %s", l.Body)
	}
}
