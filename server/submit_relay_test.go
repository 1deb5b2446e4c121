package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/relay"
	"github.com/eidermail/eider/mail/relay/relaytest"
	"github.com/eidermail/eider/server"
)

// Submitted mail for recipients who are not local users goes to the
// outbound relay (Python's smtpd here) in one transaction; local recipients
// are delivered here, the relay's refusals are reported per recipient, and
// Bcc recipients are in the envelope but not in the header.
func TestSubmitRelay(t *testing.T) {
	addr, dir := relaytest.StartPython(t)
	rl, err := relay.New(relay.Options{Addr: addr, TLS: relay.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *server.Options) { o.Relay = rl })
	ctx := context.Background()
	_, tok := e.user("wanda", "pw", "wanda@example.com")
	e.user("xavi", "pw", "xavi@example.com")
	a := e.client(tok)
	body := api.Submission{
		To:      &[]api.EmailAddress{{Address: "xavi@example.com"}, {Address: "bob@elsewhere.example"}},
		Cc:      &[]api.EmailAddress{{Address: "nobody@elsewhere.example"}, {Address: "later@elsewhere.example"}},
		Bcc:     &[]api.EmailAddress{{Address: "hidden@elsewhere.example"}},
		Subject: strPtr("relay me"),
		Text:    strPtr("hello\n.a line with a dot\nbye"),
	}
	r, err := a.SubmitMessageWithResponse(ctx, "me", body)
	if err != nil || r.JSON201 == nil {
		t.Fatalf("submit: %v %d %s", err, r.StatusCode(), r.Body)
	}
	res := r.JSON201
	if strings.Join(res.Delivered, ",") != "xavi@example.com" ||
		strings.Join(res.Relayed, ",") != "bob@elsewhere.example,hidden@elsewhere.example" {
		t.Fatalf("delivered %q relayed %q", res.Delivered, res.Relayed)
	}
	why := map[string]api.Undelivered{}
	for _, u := range res.NotDelivered {
		why[u.Address] = u
	}
	if u := why["nobody@elsewhere.example"]; !strings.Contains(u.Reason, "550 5.1.1") || u.Temporary == nil || *u.Temporary {
		t.Fatalf("nobody@: %+v", u)
	}
	if u := why["later@elsewhere.example"]; !strings.Contains(u.Reason, "451") || u.Temporary == nil || !*u.Temporary {
		t.Fatalf("later@: %+v", u)
	}
	if len(res.NotDelivered) != 2 {
		t.Fatalf("not delivered %+v", res.NotDelivered)
	}

	got := relaytest.Received(t, dir)
	if len(got) != 1 {
		t.Fatalf("relay received %d transactions, want 1", len(got))
	}
	if got[0].From != "wanda@example.com" || strings.Join(got[0].Rcpt, ",") != "bob@elsewhere.example,hidden@elsewhere.example" {
		t.Fatalf("envelope %q → %q", got[0].From, got[0].Rcpt)
	}
	// What the relay got is the Sent copy, byte for byte (smtpd joins the
	// lines with LF).
	data, _ := base64.StdEncoding.DecodeString(got[0].Data)
	sent, _ := a.GetMessageSourceWithResponse(ctx, "me", res.Message.Mailbox, res.Message.Id)
	if want := bytes.ReplaceAll(bytes.TrimSuffix(sent.Body, []byte("\r\n")), []byte("\r\n"), []byte("\n")); !bytes.Equal(data, want) {
		t.Fatalf("relayed %q\nsent copy %q", data, want)
	}
	if bytes.Contains(bytes.ToLower(data), []byte("hidden@")) {
		t.Fatal("the Bcc recipient is visible in the relayed header")
	}
}

// A relay that cannot be reached leaves the message in Sent and reports
// the remote recipients as temporarily not delivered; local delivery is
// unaffected.
func TestSubmitRelayDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rl, _ := relay.New(relay.Options{Addr: addr, TLS: relay.TLSNone})
	e := newEnv(t, func(o *server.Options) { o.Relay = rl })
	ctx := context.Background()
	_, tok := e.user("yara", "pw", "yara@example.com")
	a := e.client(tok)
	r, err := a.SubmitMessageWithResponse(ctx, "me", api.Submission{
		To:   &[]api.EmailAddress{{Address: "yara@example.com"}, {Address: "far@elsewhere.example"}},
		Text: strPtr("x"),
	})
	if err != nil || r.JSON201 == nil {
		t.Fatalf("submit: %v %d %s", err, r.StatusCode(), r.Body)
	}
	res := r.JSON201
	if len(res.Delivered) != 1 || len(res.Relayed) != 0 || len(res.NotDelivered) != 1 ||
		res.NotDelivered[0].Temporary == nil || !*res.NotDelivered[0].Temporary {
		t.Fatalf("result %s", r.Body)
	}
	s, _ := a.GetMailboxWithResponse(ctx, "me", res.Message.Mailbox)
	if s.JSON200.Total != 1 {
		t.Fatalf("Sent holds %d messages", s.JSON200.Total)
	}
}
