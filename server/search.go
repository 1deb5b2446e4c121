package server

import (
	"context"
	"slices"
	"strings"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// hit is one search result position: mailbox index in path order and UID.
type hit struct {
	mb  int
	uid uint32
}

// SearchMessages runs the filters over one mailbox or all, ordered by
// mailbox path and then newest first, paginated with cursors that name a
// (mailbox, UID) position.
func (h *Handlers) SearchMessages(ctx context.Context, req api.SearchMessagesRequestObject) (api.SearchMessagesResponseObject, error) {
	ctx = reqCtx(ctx)
	id, err := userOf(ctx, req.User)
	if err != nil {
		return nil, err
	}
	p := req.Params
	cur, err := parseCursor(p.Cursor)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(p.Limit)
	var mbs []store.Mailbox
	if p.Mailbox != nil {
		mb, err := h.svc.Store.GetMailbox(ctx, id, *p.Mailbox)
		if err != nil {
			return nil, err
		}
		mbs = []store.Mailbox{*mb}
	} else {
		if _, err := h.svc.Store.GetUser(ctx, id); err != nil {
			return nil, err
		}
		if mbs, err = h.svc.Store.ListMailboxes(ctx, id); err != nil {
			return nil, err
		}
	}
	c := criteria(p)
	var hits []hit
	for i := range mbs {
		uids, err := h.svc.Store.Search(ctx, id, mbs[i].ID, c)
		if err != nil {
			return nil, err
		}
		slices.Reverse(uids)
		for _, u := range uids {
			hits = append(hits, hit{i, u})
		}
	}
	// Position of the cursor in the ordered hits.
	start, end, dir := 0, len(hits), 1
	if cur != nil {
		mi := slices.IndexFunc(mbs, func(m store.Mailbox) bool { return m.ID == cur.mailbox })
		if mi < 0 {
			return nil, errInvalid("cursor", "the cursor's mailbox no longer exists")
		}
		// First hit strictly after the cursor position in list order.
		pos, _ := slices.BinarySearchFunc(hits, hit{mi, cur.uid}, func(a, b hit) int {
			if a.mb != b.mb {
				return a.mb - b.mb
			}
			switch {
			case a.uid > b.uid:
				return -1
			case a.uid < b.uid:
				return 1
			}
			return 0
		})
		if cur.newer {
			start, end, dir = pos-1, -1, -1
		} else {
			start = pos
			if pos < len(hits) && hits[pos] == (hit{mi, cur.uid}) {
				start++
			}
		}
	}
	// Walk from start in dir, fetching in batches, keeping what passes the
	// filters the store cannot apply (hasAttachment), up to limit+1.
	var page []store.Message
	var pageHits []hit
	for i := start; i != end && len(page) <= limit; {
		j := i
		batch := map[int]store.UIDSet{}
		var order []hit
		for ; j != end && len(order) < 2*limit; j += dir {
			batch[hits[j].mb] = append(batch[hits[j].mb], store.UIDRange{Start: hits[j].uid, Stop: hits[j].uid})
			order = append(order, hits[j])
		}
		got := map[hit]store.Message{}
		for mi, set := range batch {
			ms, err := h.svc.Store.Fetch(ctx, id, mbs[mi].ID, set, true)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				got[hit{mi, m.UID}] = m
			}
		}
		for _, ht := range order {
			m, ok := got[ht]
			if !ok || (p.HasAttachment != nil && m.HasAttachments != *p.HasAttachment) {
				continue
			}
			page = append(page, m)
			pageHits = append(pageHits, ht)
		}
		i = j
	}
	more := len(page) > limit
	page, pageHits = page[:min(limit, len(page))], pageHits[:min(limit, len(pageHits))]
	if dir < 0 {
		slices.Reverse(page)
		slices.Reverse(pageHits)
	}
	out := api.SearchMessages200JSONResponse{Messages: make([]api.MessageSummary, 0, len(page))}
	for i := range page {
		s, err := summaryOf(&page[i])
		if err != nil {
			return nil, err
		}
		out.Messages = append(out.Messages, s)
	}
	if n := len(pageHits); n > 0 {
		first, last := pageHits[0], pageHits[n-1]
		if (dir > 0 && more) || dir < 0 {
			out.NextCursor = strPtr(cursor{mailbox: mbs[last.mb].ID, uid: last.uid}.String())
		}
		if (dir < 0 && more) || (dir > 0 && cur != nil) {
			out.PreviousCursor = strPtr(cursor{newer: true, mailbox: mbs[first.mb].ID, uid: first.uid}.String())
		}
	}
	return out, nil
}

// criteria translates the query parameters to a store search (RFC 3501
// §6.4.4 semantics: case-insensitive substrings, dates without time).
func criteria(p api.SearchMessagesParams) *store.Criteria {
	c := &store.Criteria{}
	if p.Q != nil {
		c.Text = strings.Fields(*p.Q)
	}
	if p.From != nil && *p.From != "" {
		c.Header = append(c.Header, store.Header{Key: "From", Value: *p.From})
	}
	if p.To != nil && *p.To != "" {
		c.Or = append(c.Or, [2]store.Criteria{
			{Header: []store.Header{{Key: "To", Value: *p.To}}},
			{Header: []store.Header{{Key: "Cc", Value: *p.To}}},
		})
	}
	if p.Subject != nil && *p.Subject != "" {
		c.Header = append(c.Header, store.Header{Key: "Subject", Value: *p.Subject})
	}
	if p.Since != nil {
		c.Since = p.Since.Time
	}
	if p.Before != nil {
		c.Before = p.Before.Time
	}
	if p.MinSize != nil {
		c.Larger = *p.MinSize
	}
	if p.MaxSize != nil {
		c.Smaller = *p.MaxSize
	}
	flag := func(v *bool, f string) {
		if v == nil {
			return
		}
		if *v {
			c.Flag = append(c.Flag, f)
		} else {
			c.NotFlag = append(c.NotFlag, f)
		}
	}
	flag(p.Seen, store.FlagSeen)
	flag(p.Flagged, store.FlagFlagged)
	return c
}
