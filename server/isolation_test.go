package server_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/eidermail/eider/api"
)

// TestUserIsolationOnEveryRoute walks every operation of openapi.yaml with
// user A's token aimed at user B's data, twice: B's id as {user} (must be
// 403, the same as for an id that does not exist), and "me" with B's
// mailbox, message, address and attachment ids (must be 404). Afterwards
// B's data is exactly as before.
func TestUserIsolationOnEveryRoute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bID, bTok := e.user("bea", "b password", "bea@example.com")
	_, aTok := e.user("abe", "a password", "abe@example.com")
	b := e.client(bTok)
	bInbox := e.mailbox(b, "INBOX")
	bMsg := e.upload(b, bInbox, corpus(t)["msg_07.txt"])
	bAddr, _ := b.ListAddressesWithResponse(ctx, "me")
	bAddrID := bAddr.JSON200.Addresses[0].Id
	before := snapshot(t, e, b, bInbox, bMsg.Id)

	_, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	doc := contractDoc(t)
	bodies := map[string]struct{ ct, body string }{
		"createUser": {"application/json", `{"username":"x","password":"y"}`},
		// A disabled flag, not a password: A changing its own password
		// would revoke the very token this test uses.
		"updateUser":    {"application/json", `{"disabled":true}`},
		"createAddress": {"application/json", `{"address":"evil@example.com"}`},
		"updateAddress": {"application/json", `{"main":true}`},
		"createMailbox": {"application/json", `{"path":"Evil"}`},
		"updateMailbox": {"application/json", `{"path":"Renamed","subscribed":false}`},
		"uploadMessage": {"message/rfc822", "Subject: evil\r\n\r\nx\r\n"},
		"updateMessage": {"application/json", `{"seen":false,"flagged":true}`},
		// Sending B mail is allowed; sending as B is what must fail.
		"submitMessage": {"application/json", `{"from":"bea@example.com","to":[{"address":"someone@elsewhere.example"}],"text":"x"}`},
		"authenticate":  {"application/json", `{"username":"bea","password":"wrong"}`},
	}
	hc := e.httpClient()
	tried := 0
	for path, item := range doc.Paths.Map() {
		if !strings.Contains(path, "{user}") {
			continue
		}
		for method, op := range item.Operations() {
			for _, asMe := range []bool{false, true} {
				user := bID
				if asMe {
					user = "me"
				}
				url := strings.NewReplacer("{user}", user, "{mailbox}", bInbox, "{message}", bMsg.Id,
					"{address}", bAddrID, "{attachment}", "ATT00001").Replace(path)
				bd := bodies[op.OperationID]
				req, _ := http.NewRequest(method, e.url+url, strings.NewReader(bd.body))
				req.Header.Set("Authorization", "Bearer "+aTok)
				if bd.ct != "" {
					req.Header.Set("Content-Type", bd.ct)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				tried++
				want := []int{403}
				if asMe {
					want = []int{404}
					if !strings.Contains(path, "{mailbox}") && !strings.Contains(path, "{address}") {
						// A's own resources: allowed, but they must not be B's.
						want = []int{200, 201, 204, 403}
					}
					if op.OperationID == "getUpdates" {
						// A plain GET (no WebSocket upgrade, no
						// text/event-stream) is refused as such; the
						// streams are covered in updates_test.go.
						want = []int{400}
					}
				}
				if !slices.Contains(want, resp.StatusCode) {
					t.Errorf("%s %s (%s) as A: %d %s, want %v", method, url, op.OperationID, resp.StatusCode, body, want)
				}
				if strings.Contains(string(body), bMsg.Id) || strings.Contains(string(body), "bea@example.com") {
					t.Errorf("%s %s (%s) as A leaks B's data: %s", method, url, op.OperationID, body)
				}
			}
		}
	}
	if tried < 40 {
		t.Fatalf("only %d requests tried", tried)
	}
	if after := snapshot(t, e, b, bInbox, bMsg.Id); after != before {
		t.Fatalf("B's data changed:\nbefore %s\nafter  %s", before, after)
	}
	if a, _ := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: "bea", Password: "b password"}); a.JSON200 == nil {
		t.Fatal("B's password was changed")
	}
}

// snapshot is B's data as B sees it, for comparison.
func snapshot(t *testing.T, e *env, b *api.ClientWithResponses, inbox, msg string) string {
	t.Helper()
	ctx := context.Background()
	u, _ := b.GetUserWithResponse(ctx, "me")
	mbs, _ := b.ListMailboxesWithResponse(ctx, "me")
	l, _ := b.ListMessagesWithResponse(ctx, "me", inbox, nil)
	m, _ := b.GetMessageWithResponse(ctx, "me", inbox, msg, nil)
	if u.JSON200 == nil || mbs.JSON200 == nil || l.JSON200 == nil || m.JSON200 == nil {
		t.Fatal("snapshot of B failed")
	}
	return string(u.Body) + string(mbs.Body) + string(l.Body) + strings.Join(m.JSON200.Flags, ",")
}
