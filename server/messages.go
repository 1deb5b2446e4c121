package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/store"
)

// message finds a message of the user in the given mailbox (404 when it
// is in another one).
// requestMessage is the opening of every route under a message: the
// request context, the user the token may act for, and the message, which
// must be in the named mailbox.
func (h *Handlers) requestMessage(ctx context.Context, user, mailboxID, messageID string) (context.Context, string, *store.Message, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, user)
	if err != nil {
		return ctx, "", nil, err
	}
	m, err := h.message(ctx, id, mailboxID, messageID)
	return ctx, id, m, err
}

func (h *Handlers) message(ctx context.Context, userID, mailboxID, messageID string) (*store.Message, error) {
	m, err := h.svc.Store.GetMessage(ctx, userID, messageID)
	if err != nil {
		return nil, err
	}
	if m.MailboxID != mailboxID {
		return nil, errNotFound("message not found in this mailbox")
	}
	return m, nil
}

func summaryOf(m *store.Message) (api.MessageSummary, error) {
	a, err := mail.Addresses(m)
	if err != nil {
		return api.MessageSummary{}, err
	}
	return toSummary(m, a), nil
}

// ListMessages lists a mailbox newest first with UID cursors.
func (h *Handlers) ListMessages(ctx context.Context, req api.ListMessagesRequestObject) (api.ListMessagesResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	cur, err := parseCursor(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	q := mail.PageQuery{Limit: pageLimit(req.Params.Limit)}
	if cur != nil {
		if cur.newer {
			q.After = cur.uid
		} else {
			q.Before = cur.uid
		}
	}
	p, err := h.svc.ListPage(ctx, id, req.Mailbox, q)
	if err != nil {
		return nil, err
	}
	var next, prev *string
	if n := len(p.Messages); n > 0 {
		if p.Older {
			next = strPtr(cursor{uid: p.Messages[n-1].UID}.String())
		}
		if p.Newer {
			prev = strPtr(cursor{newer: true, uid: p.Messages[0].UID}.String())
		}
	} else if cur != nil && !cur.newer {
		// Past the end: the way back starts at the cursor.
		prev = strPtr(cursor{newer: true, uid: cur.uid - 1}.String())
	}
	// Encoded here, straight from the messages (listjson.go).
	r, err := encodeList(p.Messages, next, prev)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// validFlag accepts the RFC 3501 §2.3.2 system flags (except \Recent) and
// keywords made of atom characters.
func validFlag(f string) bool {
	switch f {
	case store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagDraft:
		return true
	}
	if f == "" || strings.HasPrefix(f, `\`) {
		return false
	}
	for _, c := range []byte(f) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"]\`, c) >= 0 {
			return false
		}
	}
	return true
}

// UploadMessage appends a raw message, stored byte for byte.
func (h *Handlers) UploadMessage(ctx context.Context, req api.UploadMessageRequestObject) (api.UploadMessageResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	var flags []string
	if req.Params.Flag != nil {
		for _, f := range *req.Params.Flag {
			if !validFlag(f) {
				return nil, errInvalid("flag", "%q is not a system flag or keyword", f)
			}
			flags = append(flags, f)
		}
	}
	if _, err := h.svc.Store.GetMailbox(ctx, id, req.Mailbox); err != nil {
		return nil, err
	}
	body := bufio.NewReader(http.MaxBytesReader(nil, readCloser{req.Body}, h.svc.Limits.MaxSize+1))
	if _, err := body.Peek(1); err == io.EOF {
		return nil, errInvalid("body", "the message is empty")
	}
	m, err := h.svc.Append(ctx, id, req.Mailbox, body, flags, time.Time{})
	if err != nil {
		return nil, err
	}
	if len(m.Meta) == 0 {
		if m, err = h.svc.Store.GetMessage(ctx, id, m.ID); err != nil {
			return nil, err
		}
	}
	s, err := summaryOf(m)
	if err != nil {
		return nil, err
	}
	loc := "/users/" + id + "/mailboxes/" + m.MailboxID + "/messages/" + m.ID
	return api.UploadMessage201JSONResponse{Body: s, Headers: api.UploadMessage201ResponseHeaders{Location: &loc}}, nil
}

type readCloser struct {
	r interface{ Read([]byte) (int, error) }
}

func (r readCloser) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readCloser) Close() error               { return nil }

// GetMessage returns the parsed message with sanitized HTML.
func (h *Handlers) GetMessage(ctx context.Context, req api.GetMessageRequestObject) (api.GetMessageResponseObject, error) {
	ctx, id, m, err := h.requestMessage(ctx, req.User, req.Mailbox, req.Message)
	if err != nil {
		return nil, err
	}
	// The view skips the MIME tree and the IMAP strings (half the decoding).
	meta, err := mail.ViewMeta(m)
	if err != nil {
		return nil, err
	}
	s := toSummary(m, &mail.ListAddresses{From: meta.From, To: meta.To, Cc: meta.Cc, Bcc: meta.Bcc})
	out := api.GetMessage200JSONResponse{
		Id: s.Id, Mailbox: s.Mailbox, Uid: s.Uid, Date: s.Date, InternalDate: s.InternalDate,
		Flags: s.Flags, Size: s.Size, HasAttachments: s.HasAttachments, Intro: s.Intro,
		Subject: s.Subject, From: s.From, To: s.To, Cc: s.Cc, Bcc: s.Bcc, Thread: s.Thread,
		Text:        meta.Text,
		Headers:     make([]api.Header, 0, len(meta.Headers)),
		Html:        make([]string, 0, len(meta.HTML)),
		Attachments: make([]api.Attachment, 0, len(meta.Attachments)),
		References:  meta.References,
	}
	if out.References == nil {
		out.References = []string{}
	}
	if meta.MessageID != "" {
		out.MessageId = &meta.MessageID
	}
	if meta.InReplyTo != "" {
		out.InReplyTo = &meta.InReplyTo
	}
	if len(meta.ReplyTo) > 0 {
		rt := toEmails(meta.ReplyTo)
		out.ReplyTo = &rt
	}
	for _, hd := range meta.Headers {
		out.Headers = append(out.Headers, api.Header{Key: hd.Key, Value: hd.Value})
	}
	cids := map[string]string{}
	for _, a := range meta.Attachments {
		u := attachmentURL(id, m.MailboxID, m.ID, a.ID)
		att := api.Attachment{Id: a.ID, Filename: a.Filename, ContentType: a.ContentType, Size: a.Size, Related: a.Related, Url: u}
		if a.Disposition != "" {
			att.Disposition = &a.Disposition
		}
		if a.ContentID != "" {
			att.ContentId = &a.ContentID
			cids[a.ContentID] = u
		}
		out.Attachments = append(out.Attachments, att)
	}
	remote := req.Params.RemoteImages != nil && *req.Params.RemoteImages
	for _, html := range meta.HTML {
		out.Html = append(out.Html, mail.SanitizeHTML(html, cids, remote))
	}
	return out, nil
}

// UpdateMessage changes flags (one conditional store, RFC 7162
// UNCHANGEDSINCE, retried if another change came in between) and then
// moves the message if asked. The target mailbox is checked first, so a
// request refused for a missing target changes nothing.
func (h *Handlers) UpdateMessage(ctx context.Context, req api.UpdateMessageRequestObject) (api.UpdateMessageResponseObject, error) {
	ctx, id, m, err := h.requestMessage(ctx, req.User, req.Mailbox, req.Message)
	if err != nil {
		return nil, err
	}
	b := req.Body
	if b.Mailbox != nil {
		if _, err := h.svc.Store.GetMailbox(ctx, id, *b.Mailbox); err != nil {
			return nil, fmt.Errorf("target mailbox: %w", err)
		}
	}
	changes := []struct {
		set  *bool
		flag string
	}{{b.Seen, store.FlagSeen}, {b.Flagged, store.FlagFlagged}, {b.Answered, store.FlagAnswered}, {b.Draft, store.FlagDraft}, {b.Deleted, store.FlagDeleted}}
	set := store.UIDSet{{Start: m.UID, Stop: m.UID}}
	for attempt := 0; ; attempt++ {
		flags := slices.Clone(m.Flags)
		for _, c := range changes {
			if c.set == nil {
				continue
			}
			i := slices.Index(flags, c.flag)
			if *c.set && i < 0 {
				flags = append(flags, c.flag)
			} else if !*c.set && i >= 0 {
				flags = slices.Delete(flags, i, i+1)
			}
		}
		slices.Sort(flags)
		cur := slices.Sorted(slices.Values(m.Flags))
		if slices.Equal(flags, cur) {
			break
		}
		res, err := h.svc.StoreFlags(ctx, id, m.MailboxID, set, store.FlagUpdate{Mode: store.FlagsSet, Flags: flags, UnchangedSince: m.ModSeq})
		if err != nil {
			return nil, err
		}
		if len(res.Modified) == 0 {
			break
		}
		if attempt == 5 {
			return nil, fmt.Errorf("update flags: message keeps changing")
		}
		if m, err = h.message(ctx, id, req.Mailbox, req.Message); err != nil {
			return nil, err
		}
	}
	if b.Mailbox != nil && *b.Mailbox != m.MailboxID {
		if _, err := h.svc.Move(ctx, id, m.MailboxID, set, *b.Mailbox); err != nil {
			return nil, err
		}
	}
	if m, err = h.svc.Store.GetMessage(ctx, id, m.ID); err != nil {
		return nil, err
	}
	s, err := summaryOf(m)
	if err != nil {
		return nil, err
	}
	return api.UpdateMessage200JSONResponse(s), nil
}

// DeleteMessage removes a message whatever its flags.
func (h *Handlers) DeleteMessage(ctx context.Context, req api.DeleteMessageRequestObject) (api.DeleteMessageResponseObject, error) {
	ctx, id, m, err := h.requestMessage(ctx, req.User, req.Mailbox, req.Message)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.Delete(ctx, id, m.MailboxID, store.UIDSet{{Start: m.UID, Stop: m.UID}}); err != nil {
		return nil, err
	}
	return api.DeleteMessage204Response{}, nil
}

// GetMessageSource streams the raw message exactly as stored.
func (h *Handlers) GetMessageSource(ctx context.Context, req api.GetMessageSourceRequestObject) (api.GetMessageSourceResponseObject, error) {
	ctx, _, m, err := h.requestMessage(ctx, req.User, req.Mailbox, req.Message)
	if err != nil {
		return nil, err
	}
	rc, err := h.svc.Store.OpenMessage(ctx, m, 0, -1)
	if err != nil {
		return nil, err
	}
	return api.GetMessageSource200Messagerfc822Response{Body: rc, ContentLength: m.Size}, nil
}

// GetAttachment serves the decoded attachment through http.ServeContent,
// which implements Range (RFC 9110 §14), If-None-Match and If-Range
// (§13.1) against the strong ETag set here.
func (h *Handlers) GetAttachment(ctx context.Context, req api.GetAttachmentRequestObject) (api.GetAttachmentResponseObject, error) {
	ctx, _, m, err := h.requestMessage(ctx, req.User, req.Mailbox, req.Message)
	if err != nil {
		return nil, err
	}
	meta, err := mail.Meta(m)
	if err != nil {
		return nil, err
	}
	att, content, err := h.svc.AttachmentContent(ctx, m, meta, req.Attachment)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	return attachmentResponse{
		req:         requestOf(ctx),
		content:     content,
		contentType: att.ContentType,
		filename:    att.Filename,
		etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
	}, nil
}

type attachmentResponse struct {
	req         *http.Request
	content     []byte
	contentType string
	filename    string
	etag        string
}

func (a attachmentResponse) VisitGetAttachmentResponse(w http.ResponseWriter) error {
	hd := w.Header()
	ct := a.contentType
	if ct == "" || !strings.Contains(ct, "/") {
		ct = "application/octet-stream"
	}
	hd.Set("Content-Type", ct)
	hd.Set("Content-Disposition", contentDisposition(a.filename))
	hd.Set("ETag", a.etag)
	// The bytes come from a stranger: never sniffed, never run as a page.
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox")
	http.ServeContent(w, a.req, "", time.Time{}, bytes.NewReader(a.content))
	return nil
}
