package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/mimetree"
	openapi_types "github.com/oapi-codegen/runtime/types"
)

func TestRawIsByteIdentical(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("hana", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	for name, raw := range corpus(t) {
		s := e.upload(c, inbox, raw)
		if s.Size != int64(len(raw)) || s.Mailbox != inbox {
			t.Fatalf("%s: summary %+v", name, s)
		}
		r, err := c.GetMessageSourceWithResponse(ctx, "me", inbox, s.Id)
		if err != nil || r.StatusCode() != 200 {
			t.Fatalf("%s: %v %d", name, err, r.StatusCode())
		}
		if !bytes.Equal(r.Body, raw) {
			t.Fatalf("%s: raw differs (%d bytes back, %d sent)", name, len(r.Body), len(raw))
		}
		if ct := r.HTTPResponse.Header.Get("Content-Type"); ct != "message/rfc822" {
			t.Fatalf("%s: Content-Type %q", name, ct)
		}
	}
}

func TestMessageLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("ivan", "pw", "ivan@example.com")
	c := e.client(tok)
	inbox, trash := e.mailbox(c, "INBOX"), e.mailbox(c, "Trash")
	raw := "From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\nTo: Ivan <ivan@example.com>, b@example.com\r\nCc: c@example.com\r\n" +
		"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m1@example.com>\r\nReferences: <r0@example.com>\r\nIn-Reply-To: <r0@example.com>\r\n" +
		"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n\r\nHallo Ivan,\r\nwie geht's?\r\n"
	s := e.upload(c, inbox, []byte(raw))
	g, err := c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
	if err != nil || g.JSON200 == nil {
		t.Fatalf("get: %v %s", err, g.Body)
	}
	m := g.JSON200
	if m.Subject != "Grüße" || len(m.From) != 1 || *m.From[0].Name != "Jürgen" || len(m.To) != 2 || len(m.Cc) != 1 ||
		!strings.Contains(m.Text, "wie geht's?") || *m.MessageId != "m1@example.com" || *m.InReplyTo != "r0@example.com" ||
		!slices.Equal(m.References, []string{"r0@example.com"}) || m.Date.Year() != 2026 || m.Thread == "" || m.Mailbox != inbox {
		t.Fatalf("message %s", g.Body)
	}
	if !slices.ContainsFunc(m.Headers, func(h api.Header) bool { return h.Key == "Subject" && h.Value == "Grüße" }) {
		t.Fatalf("headers %+v", m.Headers)
	}

	// Flags: set seen and flagged, clear flagged.
	yes, no := true, false
	u, _ := c.UpdateMessageWithResponse(ctx, "me", inbox, s.Id, api.UpdateMessageJSONRequestBody{Seen: &yes, Flagged: &yes})
	if u.JSON200 == nil || !slices.Equal(u.JSON200.Flags, []string{`\Flagged`, `\Seen`}) {
		t.Fatalf("flags: %d %s", u.StatusCode(), u.Body)
	}
	u, _ = c.UpdateMessageWithResponse(ctx, "me", inbox, s.Id, api.UpdateMessageJSONRequestBody{Flagged: &no})
	if u.JSON200 == nil || !slices.Equal(u.JSON200.Flags, []string{`\Seen`}) {
		t.Fatalf("flags: %s", u.Body)
	}
	// A move to a mailbox that does not exist changes nothing.
	nowhere := "999999"
	u, _ = c.UpdateMessageWithResponse(ctx, "me", inbox, s.Id, api.UpdateMessageJSONRequestBody{Mailbox: &nowhere, Flagged: &yes})
	problemCode(t, u.StatusCode(), u.Body, 404)
	g, _ = c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
	if !slices.Equal(g.JSON200.Flags, []string{`\Seen`}) {
		t.Fatalf("refused move changed flags: %v", g.JSON200.Flags)
	}
	// Move to Trash: same id, new mailbox; the old path is 404.
	u, _ = c.UpdateMessageWithResponse(ctx, "me", inbox, s.Id, api.UpdateMessageJSONRequestBody{Mailbox: &trash})
	if u.JSON200 == nil || u.JSON200.Mailbox != trash || u.JSON200.Id != s.Id {
		t.Fatalf("move: %d %s", u.StatusCode(), u.Body)
	}
	g, _ = c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
	problemCode(t, g.StatusCode(), g.Body, 404)

	// Another user cannot read, change or delete it, even knowing its ids.
	_, tok2 := e.user("judy", "pw", "")
	other := e.client(tok2)
	g, _ = other.GetMessageWithResponse(ctx, "me", trash, s.Id, nil)
	problemCode(t, g.StatusCode(), g.Body, 404)
	r, _ := other.GetMessageSourceWithResponse(ctx, "me", trash, s.Id)
	problemCode(t, r.StatusCode(), r.Body, 404)
	d, _ := other.DeleteMessageWithResponse(ctx, "me", trash, s.Id)
	problemCode(t, d.StatusCode(), d.Body, 404)
	u, _ = other.UpdateMessageWithResponse(ctx, "me", trash, s.Id, api.UpdateMessageJSONRequestBody{Seen: &no})
	problemCode(t, u.StatusCode(), u.Body, 404)

	// Delete.
	if d, _ := c.DeleteMessageWithResponse(ctx, "me", trash, s.Id); d.StatusCode() != 204 {
		t.Fatalf("delete: %d %s", d.StatusCode(), d.Body)
	}
	g, _ = c.GetMessageWithResponse(ctx, "me", trash, s.Id, nil)
	problemCode(t, g.StatusCode(), g.Body, 404)
	me, _ := c.GetUserWithResponse(ctx, "me")
	if me.JSON200.Quota.Used != 0 {
		t.Fatalf("storage after delete %d", me.JSON200.Quota.Used)
	}
}

func TestUploadLimits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	uid, tok := e.user("kim", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	q := int64(100)
	e.admin.UpdateUserWithResponse(ctx, uid, api.UserUpdate{Quota: &q})
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", 200) + "\r\n"
	r, err := c.UploadMessageWithBodyWithResponse(ctx, "me", inbox, nil, "message/rfc822", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if code := problemCode(t, r.StatusCode(), r.Body, 422); code != "over-quota" {
		t.Fatalf("code %q", code)
	}

	// A message above the size limit: 413, nothing stored.
	small := newEnvWithLimit(t, 1024)
	_, tok = small.user("lee", "pw", "")
	c = small.client(tok)
	inbox = small.mailbox(c, "INBOX")
	r, _ = c.UploadMessageWithBodyWithResponse(ctx, "me", inbox, nil, "message/rfc822", strings.NewReader("Subject: x\r\n\r\n"+strings.Repeat("y", 4096)))
	if code := problemCode(t, r.StatusCode(), r.Body, 413); code != "too-large" {
		t.Fatalf("code %q", code)
	}
	// A submission whose JSON is larger than the limit allows: 413 before
	// anything is parsed.
	huge := api.Submission{To: &[]api.EmailAddress{{Address: "lee@example.com"}}, Text: strPtr(strings.Repeat("z", 2<<20))}
	sr, _ := c.SubmitMessageWithResponse(ctx, "me", huge)
	if code := problemCode(t, sr.StatusCode(), sr.Body, 413); code != "too-large" {
		t.Fatalf("code %q", code)
	}
	l, _ := c.ListMessagesWithResponse(ctx, "me", inbox, nil)
	if len(l.JSON200.Messages) != 0 {
		t.Fatalf("refused upload stored: %s", l.Body)
	}
}

// TestPaginationStableWhileMailArrives pages through a mailbox while new
// messages are appended between requests: every message present at the
// start is seen exactly once, newest first, and previous leads back.
func TestPaginationStableWhileMailArrives(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("mia", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	var want []string
	for i := 0; i < 53; i++ {
		s := e.upload(c, inbox, fmt.Appendf(nil, "Subject: m%d\r\n\r\nbody %d\r\n", i, i))
		want = append(want, s.Id)
	}
	slices.Reverse(want)
	// Delete a few to leave UID gaps.
	for _, i := range []int{3, 4, 5, 20} {
		c.DeleteMessageWithResponse(ctx, "me", inbox, want[i])
	}
	want = slices.Delete(slices.Delete(want, 20, 21), 3, 6)

	var got []string
	var cursors []*string
	var cur *string
	limit := 7
	for n := 0; ; n++ {
		l, _ := c.ListMessagesWithResponse(ctx, "me", inbox, &api.ListMessagesParams{Cursor: cur, Limit: &limit})
		if l.JSON200 == nil {
			t.Fatalf("page %d: %d %s", n, l.StatusCode(), l.Body)
		}
		if n == 0 && l.JSON200.PreviousCursor != nil {
			t.Fatalf("first page has a previous cursor")
		}
		if n > 0 && l.JSON200.PreviousCursor == nil {
			t.Fatalf("page %d has no previous cursor", n)
		}
		cursors = append(cursors, cur)
		for _, m := range l.JSON200.Messages {
			got = append(got, m.Id)
		}
		// Mail arrives between pages.
		e.upload(c, inbox, fmt.Appendf(nil, "Subject: new %d\r\n\r\nnew\r\n", n))
		if cur = l.JSON200.NextCursor; cur == nil {
			break
		}
		if len(l.JSON200.Messages) != limit {
			t.Fatalf("page %d has %d messages", n, len(l.JSON200.Messages))
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged ids\n got %v\nwant %v", got, want)
	}
	// Page 3, then its previous cursor gives page 2 again.
	l3, _ := c.ListMessagesWithResponse(ctx, "me", inbox, &api.ListMessagesParams{Cursor: cursors[2], Limit: &limit})
	l2, _ := c.ListMessagesWithResponse(ctx, "me", inbox, &api.ListMessagesParams{Cursor: l3.JSON200.PreviousCursor, Limit: &limit})
	var ids []string
	for _, m := range l2.JSON200.Messages {
		ids = append(ids, m.Id)
	}
	if !slices.Equal(ids, want[limit:2*limit]) {
		t.Fatalf("previous page %v, want %v", ids, want[limit:2*limit])
	}
	// Default page size is 20.
	l, _ := c.ListMessagesWithResponse(ctx, "me", inbox, nil)
	if len(l.JSON200.Messages) != 20 {
		t.Fatalf("default page has %d", len(l.JSON200.Messages))
	}
}

// pythonParts decodes every leaf part of a message with CPython's email
// package (a decoder nobody here wrote), keyed by IMAP section number.
func pythonParts(t *testing.T, path string) map[string][]byte {
	t.Helper()
	const script = `
import email, email.policy, json, sys, base64
msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.compat32)
out = {}
def walk(m, prefix):
    if m.get_content_maintype() == 'multipart':
        if not m.is_multipart():
            return  # no usable boundary: kept opaque, not compared
        for i, p in enumerate(m.get_payload()):
            sec = prefix + '.' + str(i + 1) if prefix else str(i + 1)
            if p.get_content_maintype() == 'multipart':
                walk(p, sec) if p.is_multipart() else None
            elif p.get_content_maintype() != 'message':
                b = p.get_payload(decode=True) or b''
                if not p.defects:  # broken encodings have no single right answer
                    out[sec] = base64.b64encode(b).decode()
    elif m.get_content_maintype() != 'message':
        out['1'] = base64.b64encode(m.get_payload(decode=True) or b'').decode()
walk(msg, '')
if any(p.defects for p in msg.walk()):
    out = {}  # a broken structure: the two parsers may split it differently
print(json.dumps(out))
`
	b, err := exec.Command("python3", "-c", script, path).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var enc map[string]string
	if err := json.Unmarshal(b, &enc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, v := range enc {
		out[k], _ = base64.StdEncoding.DecodeString(v)
	}
	return out
}

func TestAttachmentsDecodedWithRangeAndETag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	uid, tok := e.user("nick", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	checked := 0
	for name, raw := range corpus(t) {
		s := e.upload(c, inbox, raw)
		g, _ := c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
		if g.JSON200 == nil {
			t.Fatalf("%s: %s", name, g.Body)
		}
		if len(g.JSON200.Attachments) == 0 {
			continue
		}
		// The section of each attachment, from the stored structure.
		m, err := e.svc.Store.GetMessage(ctx, uid, s.Id)
		if err != nil {
			t.Fatal(err)
		}
		var meta mimetree.Meta
		json.Unmarshal(m.Meta, &meta)
		ref := pythonParts(t, filepath.Join(corpusDir, name))
		for i, a := range g.JSON200.Attachments {
			r, err := c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, a.Id, nil)
			if err != nil || r.StatusCode() != 200 {
				t.Fatalf("%s %s: %v %d %s", name, a.Id, err, r.StatusCode(), r.Body)
			}
			// Attached messages and broken structures have no reference.
			if want, ok := ref[meta.Attachments[i].Part]; ok && !bytes.Equal(r.Body, want) {
				t.Fatalf("%s %s (%s): %d decoded bytes differ from Python's %d", name, a.Id, a.ContentType, len(r.Body), len(want))
			} else if ok {
				checked++
			}
			if int64(len(r.Body)) != a.Size {
				t.Errorf("%s %s: size %d listed, %d served", name, a.Id, a.Size, len(r.Body))
			}
			h := r.HTTPResponse.Header
			if h.Get("Content-Type") != a.ContentType || h.Get("ETag") == "" || h.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.HasPrefix(h.Get("Content-Disposition"), "attachment; filename=") {
				t.Fatalf("%s %s: headers %v", name, a.Id, h)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d attachments checked", checked)
	}

	// Range, If-None-Match, 416 on the GIF of msg_07.
	raw := corpus(t)["msg_07.txt"]
	s := e.upload(c, inbox, raw)
	g, _ := c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
	att := g.JSON200.Attachments[0]
	if att.Filename != "dingusfish.gif" || att.ContentType != "image/gif" || !g.JSON200.HasAttachments {
		t.Fatalf("attachment %+v", att)
	}
	full, _ := c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, att.Id, nil)
	etag := full.HTTPResponse.Header.Get("ETag")
	if !strings.HasPrefix(string(full.Body), "GIF8") {
		t.Fatalf("not a GIF: %q", full.Body[:8])
	}
	rng := "bytes=2-9"
	r, _ := c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, att.Id, &api.GetAttachmentParams{Range: &rng})
	if r.StatusCode() != 206 || !bytes.Equal(r.Body, full.Body[2:10]) ||
		r.HTTPResponse.Header.Get("Content-Range") != fmt.Sprintf("bytes 2-9/%d", len(full.Body)) {
		t.Fatalf("range: %d %q %v", r.StatusCode(), r.Body, r.HTTPResponse.Header)
	}
	suffix := "bytes=-4"
	r, _ = c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, att.Id, &api.GetAttachmentParams{Range: &suffix})
	if r.StatusCode() != 206 || !bytes.Equal(r.Body, full.Body[len(full.Body)-4:]) {
		t.Fatalf("suffix range: %d", r.StatusCode())
	}
	r, _ = c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, att.Id, &api.GetAttachmentParams{IfNoneMatch: &etag})
	if r.StatusCode() != 304 || len(r.Body) != 0 {
		t.Fatalf("If-None-Match: %d", r.StatusCode())
	}
	outside := fmt.Sprintf("bytes=%d-", len(full.Body)+10)
	r, _ = c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, att.Id, &api.GetAttachmentParams{Range: &outside})
	if r.StatusCode() != 416 || r.HTTPResponse.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(full.Body)) {
		t.Fatalf("416: %d %v", r.StatusCode(), r.HTTPResponse.Header)
	}
	nf, _ := c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, "ATT00099", nil)
	problemCode(t, nf.StatusCode(), nf.Body, 404)
}

func TestContentDispositionIsSafe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("olga", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	raw := "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2F%22r%C3%A9sum%C3%A9%22%0D%0A.txt\r\n\r\ndata\r\n--b--\r\n"
	s := e.upload(c, inbox, []byte(raw))
	r, _ := c.GetAttachmentWithResponse(ctx, "me", inbox, s.Id, "ATT00001", nil)
	cd := r.HTTPResponse.Header.Get("Content-Disposition")
	if r.StatusCode() != 200 || string(r.Body) != "data" {
		t.Fatalf("%d %q", r.StatusCode(), r.Body)
	}
	if strings.ContainsAny(cd, "/\r\n") || strings.Count(cd, `"`) != 2 || !strings.Contains(cd, "filename*=UTF-8''r%C3%A9sum%C3%A9.txt") {
		t.Fatalf("Content-Disposition %q", cd)
	}
}

func TestHTMLIsSanitized(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("pia", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	vectors := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(2)>`,
		`<a href="javascript:alert(3)">x</a>`,
		`<a href="JaVaScRiPt:alert(4)">x</a>`,
		`<a href="&#106;avascript:alert(5)">x</a>`,
		`<iframe src="javascript:alert(6)"></iframe>`,
		`<svg onload=alert(7)>`,
		`<body onload=alert(8)>`,
		`<form action="https://evil.example/"><input name=p></form>`,
		`<link rel=stylesheet href="https://evil.example/x.css">`,
		`<style>@import 'https://evil.example/y.css';</style>`,
		`<div style="background:url(javascript:alert(9))">s</div>`,
		`<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxMCk8L3NjcmlwdD4="></object>`,
		`<a href="data:text/html,<script>alert(11)</script>">d</a>`,
		`<meta http-equiv="refresh" content="0;url=javascript:alert(12)">`,
		`<IMG SRC=JaVaScRiPt:alert(13)>`,
		`<img src="//tracker.example/proto-relative.gif">`,
		`<img srcset="https://tracker.example/a.gif 1x, https://tracker.example/b.gif 2x">`,
		`<picture><source srcset="https://tracker.example/c.gif"></picture>`,
		`<div style="background-image:url(https://tracker.example/bg.gif)">bg</div>`,
		`<a href="vbscript:msgbox(14)">v</a>`,
		`<base href="javascript:alert(15)//">`,
		`<embed src="javascript:alert(16)">`,
		`<table background="javascript:alert(17)"><tr><td>t</td></tr></table>`,
		`<input onfocus=alert(18) autofocus>`,
		`<video poster=javascript:alert(19)></video>`,
		`<details open ontoggle=alert(20)>`,
		`<div style="width: expression(alert(21))">e</div>`,
		`<svg><script>alert(22)</script></svg>`,
		`<math><mtext><table><mglyph><style><img src=x onerror=alert(23)>`,
		`<a href="  javascript:alert(24)">s</a>`,
		`<a href="java&#x09;script:alert(25)">t</a>`,
		`<<script>alert(26);//<</script>`,
		`<img src="x` + "`" + `onerror=alert(27)` + "`" + `">`,
	}
	// The images first: later vectors (unclosed <style> in <math>) swallow
	// the rest of the document, which is the point of them.
	vectors = append([]string{`<img src="https://tracker.example/pixel.gif">`, `<img src="cid:logo@x">`}, vectors...)
	html := "<p>Hello <b>there</b></p>" + strings.Join(vectors, "\n")
	raw := "Subject: xss\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html +
		"\r\n--r\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n"
	s := e.upload(c, inbox, []byte(raw))
	g, _ := c.GetMessageWithResponse(ctx, "me", inbox, s.Id, nil)
	if g.JSON200 == nil || len(g.JSON200.Html) != 1 {
		t.Fatalf("html: %s", g.Body)
	}
	out := strings.ToLower(g.JSON200.Html[0])
	for _, bad := range []string{"<script", "onerror", "onload", "onfocus", "ontoggle", "javascript:", "vbscript:", "<iframe", "<form", "<input", "<link", "<style", "@import", "<object", "<embed", "<base", "<svg", "<math", "data:", "<meta", "tracker.example", "srcset", "style=", "expression(", "alert("} {
		if strings.Contains(out, bad) {
			t.Errorf("sanitized HTML still has %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "<b>there</b>") {
		t.Errorf("formatting lost: %s", out)
	}
	att := g.JSON200.Attachments[0]
	if !att.Related || !strings.Contains(g.JSON200.Html[0], `src="`+att.Url+`"`) {
		t.Errorf("cid not rewritten to %s: %s", att.Url, g.JSON200.Html[0])
	}
	remote := true
	g, _ = c.GetMessageWithResponse(ctx, "me", inbox, s.Id, &api.GetMessageParams{RemoteImages: &remote})
	if !strings.Contains(g.JSON200.Html[0], "https://tracker.example/pixel.gif") {
		t.Errorf("remoteImages=true dropped the remote image: %s", g.JSON200.Html[0])
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, tok := e.user("quinn", "pw", "")
	c := e.client(tok)
	inbox, sent := e.mailbox(c, "INBOX"), e.mailbox(c, "Sent Mail")
	mk := func(mb, from, to, subj, body string, flags ...string) string {
		raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n", from, to, subj, body)
		return e.upload(c, mb, []byte(raw), flags...).Id
	}
	inv1 := mk(inbox, "billing@shop.example", "quinn@example.com", "Invoice 1", "please pay the invoice")
	mk(inbox, "friend@example.com", "quinn@example.com", "Lunch", "lunch tomorrow?", `\Seen`)
	inv2 := mk(sent, "quinn@example.com", "billing@shop.example", "Re: Invoice 1", "the invoice is paid", `\Seen`)
	att := e.upload(c, inbox, corpus(t)["msg_07.txt"]).Id

	ids := func(p api.SearchMessagesParams) []string {
		t.Helper()
		r, err := c.SearchMessagesWithResponse(ctx, "me", &p)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("search %+v: %v %d %s", p, err, r.StatusCode(), r.Body)
		}
		var out []string
		for _, m := range r.JSON200.Messages {
			out = append(out, m.Id)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	q := "invoice"
	if got := ids(api.SearchMessagesParams{Q: &q}); !slices.Equal(got, sorted(inv1, inv2)) {
		t.Fatalf("q=invoice: %v", got)
	}
	from := "shop.example"
	if got := ids(api.SearchMessagesParams{From: &from}); !slices.Equal(got, sorted(inv1)) {
		t.Fatalf("from: %v", got)
	}
	if got := ids(api.SearchMessagesParams{To: &from}); !slices.Equal(got, sorted(inv2)) {
		t.Fatalf("to: %v", got)
	}
	no, yes := false, true
	if got := ids(api.SearchMessagesParams{Q: &q, Seen: &no}); !slices.Equal(got, sorted(inv1)) {
		t.Fatalf("unseen invoices: %v", got)
	}
	if got := ids(api.SearchMessagesParams{Q: &q, Mailbox: &sent}); !slices.Equal(got, sorted(inv2)) {
		t.Fatalf("invoices in sent: %v", got)
	}
	if got := ids(api.SearchMessagesParams{HasAttachment: &yes}); !slices.Equal(got, sorted(att)) {
		t.Fatalf("with attachment: %v", got)
	}
	big := int64(1000)
	if got := ids(api.SearchMessagesParams{MinSize: &big}); !slices.Equal(got, sorted(att)) {
		t.Fatalf("minSize: %v", got)
	}
	if got := ids(api.SearchMessagesParams{MaxSize: &big}); len(got) != 3 || slices.Contains(got, att) {
		t.Fatalf("maxSize: %v", got)
	}
	future := openapi_types.Date{Time: time.Now().AddDate(0, 0, 2)}
	if got := ids(api.SearchMessagesParams{Since: &future}); len(got) != 0 {
		t.Fatalf("since the day after tomorrow: %v", got)
	}
	if got := ids(api.SearchMessagesParams{Before: &future}); len(got) != 4 {
		t.Fatalf("before the day after tomorrow: %v", got)
	}
	subj := "lunch"
	if got := ids(api.SearchMessagesParams{Subject: &subj, HasAttachment: &no}); len(got) != 1 {
		t.Fatalf("subject lunch: %v", got)
	}

	// Pagination over all mailboxes: limit 1 walks every message once, and
	// previous walks back.
	var seen []string
	var cur *string
	var curs []*string
	lim := 1
	for {
		r, _ := c.SearchMessagesWithResponse(ctx, "me", &api.SearchMessagesParams{Cursor: cur, Limit: &lim})
		curs = append(curs, cur)
		for _, m := range r.JSON200.Messages {
			seen = append(seen, m.Id)
		}
		if cur = r.JSON200.NextCursor; cur == nil {
			break
		}
	}
	if len(seen) != 4 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 4 {
		t.Fatalf("paged search saw %v", seen)
	}
	r, _ := c.SearchMessagesWithResponse(ctx, "me", &api.SearchMessagesParams{Cursor: curs[2], Limit: &lim})
	back, _ := c.SearchMessagesWithResponse(ctx, "me", &api.SearchMessagesParams{Cursor: r.JSON200.PreviousCursor, Limit: &lim})
	if len(back.JSON200.Messages) != 1 || back.JSON200.Messages[0].Id != seen[1] {
		t.Fatalf("previous of page 3 is %s, want %s", back.Body, seen[1])
	}
}

func TestConcurrentUploadsAndReads(t *testing.T) {
	// Many clients at once over real HTTP: every upload is listed once and
	// the counters agree with the store.
	e := newEnv(t)
	ctx := context.Background()
	uid, tok := e.user("rita", "pw", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.UploadMessageWithBodyWithResponse(ctx, "me", inbox, nil, "message/rfc822",
				strings.NewReader(fmt.Sprintf("Subject: c%d\r\n\r\nbody\r\n", i)))
			if err == nil && r.StatusCode() != 201 {
				err = fmt.Errorf("status %d", r.StatusCode())
			}
			if err == nil {
				_, err = c.ListMessagesWithResponse(ctx, "me", inbox, nil)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cnt, err := e.svc.Store.Counters(ctx, uid, inbox)
	if err != nil || cnt.Total != 40 {
		t.Fatalf("counters %+v %v", cnt, err)
	}
	g, _ := c.GetMailboxWithResponse(ctx, "me", inbox)
	if g.JSON200.Total != 40 {
		t.Fatalf("API total %d", g.JSON200.Total)
	}
}
