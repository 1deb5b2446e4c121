package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/relay"
	"github.com/eidermail/eider/mail/store"
)

// SubmitMessage composes a message, stores it in Sent (seen), delivers it
// to the local recipients through package delivery (which adds Return-Path
// and Delivered-To and applies its Junk rules), and hands the others to the
// outbound relay when one is configured. The message is stored in Sent
// before anything is sent, so a failure of delivery or relay never loses it.
func (h *Handlers) SubmitMessage(ctx context.Context, req api.SubmitMessageRequestObject) (api.SubmitMessageResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	b := req.Body
	addrs, err := h.svc.Store.ListAddresses(ctx, id)
	if err != nil {
		return nil, err
	}
	from, err := senderAddress(addrs, b.From)
	if err != nil {
		return nil, err
	}
	c := &mail.Composition{
		From:      gomail.Address{Address: from},
		To:        toGomail(b.To),
		Cc:        toGomail(b.Cc),
		Bcc:       toGomail(b.Bcc),
		Subject:   deref(b.Subject),
		Text:      deref(b.Text),
		HTML:      deref(b.Html),
		InReplyTo: strings.Trim(deref(b.InReplyTo), "<> "),
		Date:      time.Now(),
	}
	if b.References != nil {
		for _, r := range *b.References {
			c.References = append(c.References, strings.Trim(r, "<> "))
		}
	}
	if b.Attachments != nil {
		for _, a := range *b.Attachments {
			c.Attachments = append(c.Attachments, mail.ComposedAttachment{Filename: a.Filename, ContentType: deref(a.ContentType), Content: a.Content})
		}
	}
	rcpts := uniq(c.Recipients())
	if len(rcpts) == 0 {
		return nil, errInvalid("to", "give at least one recipient in to, cc or bcc")
	}
	if _, dom, err := address.Split(from); err == nil {
		c.MessageIDDom = dom
	}
	raw, err := mail.Compose(c)
	if err != nil {
		return nil, err
	}
	sent, err := h.svc.Store.FindSpecialUse(ctx, id, store.SpecialSent)
	if err != nil {
		return nil, fmt.Errorf("submit: sent mailbox: %w", err)
	}
	m, err := h.svc.Append(ctx, id, sent.ID, bytes.NewReader(raw), []string{store.FlagSeen}, time.Time{})
	if err != nil {
		return nil, err
	}
	if m, err = h.svc.Store.GetMessage(ctx, id, m.ID); err != nil {
		return nil, err
	}
	s, err := summaryOf(m)
	if err != nil {
		return nil, err
	}
	out := api.SubmitMessage201JSONResponse{Message: s, Delivered: []string{}, Relayed: []string{}, NotDelivered: []api.Undelivered{}}
	env := &delivery.Envelope{From: from}
	var remote []string
	for _, r := range rcpts {
		rc, err := h.deliverer.Resolve(ctx, r)
		if err != nil {
			var de *delivery.Error
			if errors.As(err, &de) && de.Code == 550 {
				remote = append(remote, r)
				continue
			}
			out.NotDelivered = append(out.NotDelivered, undelivered(r, err))
			continue
		}
		env.Recipients = append(env.Recipients, *rc)
	}
	if len(env.Recipients) > 0 {
		for _, res := range h.deliverer.Deliver(ctx, env, bytes.NewReader(raw)) {
			if res.Err != nil {
				out.NotDelivered = append(out.NotDelivered, undelivered(res.Recipient.Address, res.Err))
			} else {
				out.Delivered = append(out.Delivered, res.Recipient.Address)
			}
		}
	}
	switch {
	case len(remote) == 0:
	case h.relay == nil:
		for _, r := range remote {
			out.NotDelivered = append(out.NotDelivered, api.Undelivered{Address: r, Reason: "not a local user; outbound relay is not configured"})
		}
	default:
		for _, res := range h.relay.Send(ctx, from, remote, raw) {
			if res.Err != nil {
				h.log.Warn("submit: relay refused a recipient", "relay", h.relay.Addr(), "rcpt", res.Recipient, "err", res.Err)
				out.NotDelivered = append(out.NotDelivered, undelivered(res.Recipient, res.Err))
			} else {
				out.Relayed = append(out.Relayed, res.Recipient)
			}
		}
	}
	return out, nil
}

// undelivered reports a recipient the message did not reach; temporary
// failures (SMTP 4xx, an unreachable relay, a store that is busy) say so.
func undelivered(addr string, err error) api.Undelivered {
	u := api.Undelivered{Address: addr, Reason: err.Error()}
	var re *relay.Error
	var de *delivery.Error
	switch {
	case errors.As(err, &re):
		u.Temporary = &re.Temporary
	case errors.As(err, &de):
		t := de.Code >= 400 && de.Code < 500
		u.Temporary = &t
	}
	return u
}

// senderAddress is the given From if it is one of the user's addresses
// (compared normalized), else the main address when none is given.
func senderAddress(addrs []store.Address, given *string) (string, error) {
	if given == nil || *given == "" {
		for _, a := range addrs {
			if a.Main {
				return a.Address, nil
			}
		}
		return "", errInvalid("from", "the user has no address to send from")
	}
	n, err := address.Normalize(*given)
	if err != nil {
		return "", errInvalid("from", "%v", err)
	}
	for _, a := range addrs {
		if a.Normalized == n {
			return a.Address, nil
		}
	}
	return "", errForbidden("from must be one of the user's addresses")
}

func toGomail(l *[]api.EmailAddress) []gomail.Address {
	if l == nil {
		return nil
	}
	out := make([]gomail.Address, 0, len(*l))
	for _, a := range *l {
		out = append(out, gomail.Address{Name: deref(a.Name), Address: a.Address})
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func uniq(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		k := strings.ToLower(s)
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
