package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/eidermail/eider/api"
)

func TestSubmit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tokA := e.user("tara", "pw", "tara@example.com")
	_, tokB := e.user("umar", "pw", "umar@example.com")
	a, b := e.client(tokA), e.client(tokB)
	pdf := bytes.Repeat([]byte("%PDF-1.4 binary \x00\x01\x02\xff"), 300)
	name, uname := "Umar Ü", "Ünïcode"
	subj := "Grüße & a report"
	text, html := "Hello Umar,\nthe report is attached.", `<p>Hello <b>Umar</b><script>x()</script></p>`
	body := api.Submission{
		To:          &[]api.EmailAddress{{Name: &name, Address: "umar@example.com"}},
		Cc:          &[]api.EmailAddress{{Name: &uname, Address: "someone@elsewhere.example"}},
		Bcc:         &[]api.EmailAddress{{Address: "TARA@example.com"}},
		Subject:     &subj,
		Text:        &text,
		Html:        &html,
		Attachments: &[]api.SubmissionAttachment{{Filename: "bericht ü.pdf", ContentType: strPtr("application/pdf"), Content: pdf}},
	}
	r, err := a.SubmitMessageWithResponse(ctx, "me", body)
	if err != nil || r.JSON201 == nil {
		t.Fatalf("submit: %v %d %s", err, r.StatusCode(), r.Body)
	}
	res := r.JSON201
	if len(res.Delivered) != 2 || len(res.NotDelivered) != 1 || res.NotDelivered[0].Address != "someone@elsewhere.example" {
		t.Fatalf("result %s", r.Body)
	}
	sent := e.mailbox(a, "Sent Mail")
	if res.Message.Mailbox != sent || len(res.Message.Flags) != 1 || res.Message.Flags[0] != `\Seen` || res.Message.Subject != subj {
		t.Fatalf("sent copy %+v", res.Message)
	}

	// The recipient's copy: parsed back, Bcc invisible, attachment intact.
	inbox := e.mailbox(b, "INBOX")
	l, _ := b.ListMessagesWithResponse(ctx, "me", inbox, nil)
	if len(l.JSON200.Messages) != 1 {
		t.Fatalf("umar's inbox: %s", l.Body)
	}
	id := l.JSON200.Messages[0].Id
	g, _ := b.GetMessageWithResponse(ctx, "me", inbox, id, nil)
	m := g.JSON200
	if m.Subject != subj || m.From[0].Address != "tara@example.com" || *m.To[0].Name != name || len(m.Bcc) != 0 ||
		!strings.Contains(m.Text, "the report is attached.") || len(m.Html) != 1 || strings.Contains(m.Html[0], "<script") ||
		!strings.Contains(m.Html[0], "<b>Umar</b>") || len(m.Attachments) != 1 || m.Attachments[0].Filename != "bericht ü.pdf" {
		t.Fatalf("delivered message %s", g.Body)
	}
	raw, _ := b.GetMessageSourceWithResponse(ctx, "me", inbox, id)
	if !bytes.HasPrefix(raw.Body, []byte("Return-Path: <tara@example.com>\r\nDelivered-To: umar@example.com\r\n")) ||
		bytes.Contains(bytes.ToLower(raw.Body), []byte("\nbcc:")) {
		t.Fatalf("raw copy head: %.200s", raw.Body)
	}
	att, _ := b.GetAttachmentWithResponse(ctx, "me", inbox, id, m.Attachments[0].Id, nil)
	if !bytes.Equal(att.Body, pdf) || att.HTTPResponse.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("attachment round trip: %d bytes, %s", len(att.Body), att.HTTPResponse.Header.Get("Content-Type"))
	}
	// The Bcc went to Tara herself.
	l, _ = a.ListMessagesWithResponse(ctx, "me", e.mailbox(a, "INBOX"), nil)
	if len(l.JSON200.Messages) != 1 {
		t.Fatalf("bcc copy: %s", l.Body)
	}

	// Reply threading: In-Reply-To and References.
	msgID := *m.MessageId
	reply := api.Submission{To: &[]api.EmailAddress{{Address: "tara@example.com"}}, Subject: strPtr("Re: " + subj), Text: strPtr("thanks"), InReplyTo: &msgID}
	rr, _ := b.SubmitMessageWithResponse(ctx, "me", reply)
	if rr.JSON201 == nil {
		t.Fatalf("reply: %s", rr.Body)
	}
	gr, _ := b.GetMessageWithResponse(ctx, "me", rr.JSON201.Message.Mailbox, rr.JSON201.Message.Id, nil)
	if *gr.JSON200.InReplyTo != msgID || gr.JSON200.References[len(gr.JSON200.References)-1] != msgID {
		t.Fatalf("reply headers: %s", gr.Body)
	}

	// Refusals: a From that is not hers, no recipient, nothing stored.
	other := "umar@example.com"
	f, _ := a.SubmitMessageWithResponse(ctx, "me", api.Submission{From: &other, To: &[]api.EmailAddress{{Address: "umar@example.com"}}, Text: strPtr("x")})
	problemCode(t, f.StatusCode(), f.Body, 403)
	n, _ := a.SubmitMessageWithResponse(ctx, "me", api.Submission{Text: strPtr("x")})
	problemCode(t, n.StatusCode(), n.Body, 400)
	bad, _ := a.SubmitMessageWithResponse(ctx, "me", api.Submission{To: &[]api.EmailAddress{{Address: "not an address"}}, Text: strPtr("x")})
	problemCode(t, bad.StatusCode(), bad.Body, 400)
	s, _ := a.GetMailboxWithResponse(ctx, "me", sent)
	if s.JSON200.Total != 1 {
		t.Fatalf("refused submissions stored: %d in Sent", s.JSON200.Total)
	}
}

// A submission larger than the 1 MiB JSON bound but within the message size
// limit is accepted: the submit operation gets its own body bound.
func TestSubmitLargerThanJSONBound(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("vera", "pw", "vera@example.com")
	a := e.client(tok)
	big := bytes.Repeat([]byte("0123456789abcdef"), 80<<10) // 1.25 MiB, ~1.7 MiB as base64
	body := api.Submission{
		To:          &[]api.EmailAddress{{Address: "vera@example.com"}},
		Subject:     strPtr("large"),
		Text:        strPtr("see attachment"),
		Attachments: &[]api.SubmissionAttachment{{Filename: "big.bin", Content: big}},
	}
	r, err := a.SubmitMessageWithResponse(ctx, "me", body)
	if err != nil || r.JSON201 == nil {
		t.Fatalf("submit of %d bytes: %v %d %s", len(big), err, r.StatusCode(), r.Body)
	}
}
