package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// PageQuery selects one page of a mailbox listing ordered newest first
// (descending UID). At most one of Before and After is set: Before lists the
// Limit messages just older than that UID, After the Limit messages just
// newer; with neither, the newest Limit messages.
//
// Pages are addressed by UIDs rather than offsets, so a page stays the same
// while mail arrives: new messages get higher UIDs (RFC 3501 §2.3.1.1) and
// only ever appear before the first page.
type PageQuery struct {
	Before, After uint32
	Limit         int
}

// Page is one page of a listing, newest first. Messages carry Meta.
type Page struct {
	Messages []store.Message
	// Older and Newer report whether messages exist beyond the page in each
	// direction (Newer is only known exactly when paging with After; paging
	// with Before it is true whenever Before was given).
	Older, Newer bool
}

// ListPage returns one page of a mailbox, newest first, with Meta. It
// reads UID windows the size of the page, growing geometrically over gaps
// left by expunges, so a page costs about Limit rows however large the
// mailbox is.
func (s *Service) ListPage(ctx context.Context, userID, mailboxID string, q PageQuery) (*Page, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list page: %w: limit must be positive", store.ErrInvalidInput)
	}
	mb, err := s.Store.GetMailbox(ctx, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("list page: %w", err)
	}
	want := q.Limit + 1 // one more tells whether there is a further page
	var ms []store.Message
	width := uint32(want)
	if q.After > 0 {
		// Ascending from After+1 up to the newest UID.
		lo, top := q.After+1, mb.UIDNext-1
		for lo <= top && len(ms) < want {
			hi := min(top, lo+width-1)
			got, err := s.Store.Fetch(ctx, userID, mailboxID, store.UIDSet{{Start: lo, Stop: hi}}, true)
			if err != nil {
				return nil, fmt.Errorf("list page: %w", err)
			}
			ms = append(ms, got...)
			if hi == top {
				break
			}
			lo, width = hi+1, width*4
		}
		p := &Page{Older: true, Newer: len(ms) > q.Limit}
		ms = ms[:min(len(ms), q.Limit)]
		slices.Reverse(ms)
		p.Messages = ms
		return p, nil
	}
	hi := mb.UIDNext - 1
	if q.Before > 0 {
		hi = min(hi, q.Before-1)
	}
	for hi >= 1 && len(ms) < want {
		lo := uint32(1)
		if hi > width {
			lo = hi - width + 1
		}
		got, err := s.Store.Fetch(ctx, userID, mailboxID, store.UIDSet{{Start: lo, Stop: hi}}, true)
		if err != nil {
			return nil, fmt.Errorf("list page: %w", err)
		}
		slices.Reverse(got)
		ms = append(ms, got...)
		if lo == 1 {
			break
		}
		hi, width = lo-1, width*4
	}
	p := &Page{Older: len(ms) > q.Limit, Newer: q.Before > 0}
	p.Messages = ms[:min(len(ms), q.Limit)]
	return p, nil
}

// ListAddresses are the address lists of a message, decoded from its Meta
// without the rest (text, HTML, structure), for listings.
type ListAddresses struct {
	From []mimetree.Address `json:"from,omitempty"`
	To   []mimetree.Address `json:"to,omitempty"`
	Cc   []mimetree.Address `json:"cc,omitempty"`
	Bcc  []mimetree.Address `json:"bcc,omitempty"`
}

// Addresses decodes only the address lists of a stored message's Meta. It
// reads the JSON object key by key and stops at "date", which
// encoding/json writes right after the address lists (mimetree.Meta's
// field order), so the text and HTML that follow are never scanned.
func Addresses(m *store.Message) (*ListAddresses, error) {
	var a ListAddresses
	dec := json.NewDecoder(bytes.NewReader(m.Meta))
	bad := func(err error) (*ListAddresses, error) {
		return nil, fmt.Errorf("message %s: decode meta: %w", m.ID, err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad(fmt.Errorf("not an object: %v", err))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		var dst any
		switch t {
		case "from":
			dst = &a.From
		case "to":
			dst = &a.To
		case "cc":
			dst = &a.Cc
		case "bcc":
			dst = &a.Bcc
		case "date":
			return &a, nil
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return bad(err)
		}
	}
	return &a, nil
}
