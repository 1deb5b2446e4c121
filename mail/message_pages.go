package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Page is one page of a listing, newest first. Messages carry Summary
// (see Addresses), not Meta or Segments.
type Page struct {
	Messages []store.Message
	// Older and Newer report whether messages exist beyond the page in each
	// direction (Newer is only known exactly when paging with After; paging
	// with Before it is true whenever Before was given).
	Older, Newer bool
}

// ListPage returns one page of a mailbox, newest first, with the list
// summary and without Meta. It reads UID windows the size of the page,
// growing geometrically over gaps left by expunges, so a page costs about
// Limit rows however large the mailbox is.
func (s *Service) ListPage(ctx context.Context, userID, mailboxID string, q PageQuery) (*Page, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list page: %w: limit must be positive", store.ErrInvalidInput)
	}
	if pf, ok := s.Store.(pageFetcher); ok {
		return s.listPageDirect(ctx, pf, userID, mailboxID, q)
	}
	mb, err := s.Store.GetMailbox(ctx, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("list page: %w", err)
	}
	want := q.Limit + 1 // one more tells whether there is a further page
	var ms []store.Message
	width := uint32(want)
	fetch := func(lo, hi uint32) ([]store.Message, error) {
		got, err := s.Store.Fetch(ctx, userID, mailboxID, store.UIDSet{{Start: lo, Stop: hi}}, false)
		if err != nil {
			return nil, fmt.Errorf("list page: %w", err)
		}
		if err := s.fillSummaries(ctx, userID, mailboxID, got); err != nil {
			return nil, fmt.Errorf("list page: %w", err)
		}
		return got, nil
	}
	if q.After > 0 {
		// Ascending from After+1 up to the newest UID.
		lo, top := q.After+1, mb.UIDNext-1
		for lo <= top && len(ms) < want {
			hi := min(top, lo+width-1)
			got, err := fetch(lo, hi)
			if err != nil {
				return nil, err
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
		got, err := fetch(lo, hi)
		if err != nil {
			return nil, err
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

// pageFetcher is implemented by stores that read a page of a listing in
// one query (mail/sqlite): at most limit messages with their Summary,
// with after > 0 the UIDs above after ascending, otherwise the UIDs below
// before (0: no bound) descending; an unknown mailbox is
// store.ErrNotFound.
type pageFetcher interface {
	FetchPage(ctx context.Context, userID, mailboxID string, before, after uint32, limit int) ([]store.Message, error)
}

// listPageDirect is ListPage through a pageFetcher: one query of Limit+1
// rows (the extra one tells whether there is a further page).
func (s *Service) listPageDirect(ctx context.Context, pf pageFetcher, userID, mailboxID string, q PageQuery) (*Page, error) {
	ms, err := pf.FetchPage(ctx, userID, mailboxID, q.Before, q.After, q.Limit+1)
	if err != nil {
		return nil, fmt.Errorf("list page: %w", err)
	}
	if err := s.fillSummaries(ctx, userID, mailboxID, ms); err != nil {
		return nil, fmt.Errorf("list page: %w", err)
	}
	if q.After > 0 {
		p := &Page{Older: true, Newer: len(ms) > q.Limit}
		ms = ms[:min(len(ms), q.Limit)]
		slices.Reverse(ms)
		p.Messages = ms
		return p, nil
	}
	p := &Page{Older: len(ms) > q.Limit, Newer: q.Before > 0}
	p.Messages = ms[:min(len(ms), q.Limit)]
	return p, nil
}

// fillSummaries gives the messages stored without a Summary (before the
// store kept one, in a backend that was not backfilled) one made from
// their Meta, read for just those messages.
func (s *Service) fillSummaries(ctx context.Context, userID, mailboxID string, ms []store.Message) error {
	var set store.UIDSet
	for i := range ms {
		if len(ms[i].Summary) == 0 {
			set = append(set, store.UIDRange{Start: ms[i].UID, Stop: ms[i].UID})
		}
	}
	if len(set) == 0 {
		return nil
	}
	full, err := s.Store.Fetch(ctx, userID, mailboxID, set, true)
	if err != nil {
		return err
	}
	byUID := make(map[uint32]*store.Message, len(full))
	for i := range full {
		byUID[full[i].UID] = &full[i]
	}
	for i := range ms {
		if len(ms[i].Summary) > 0 {
			continue
		}
		f := byUID[ms[i].UID]
		if f == nil || f.ID != ms[i].ID {
			continue // expunged meanwhile: Addresses reports none
		}
		a, err := metaAddresses(f)
		if err != nil {
			return err
		}
		ms[i].Summary = appendSummary(nil, a)
	}
	return nil
}

// ListAddresses are the address lists of a message, for listings: the
// content of its Summary (store.Message.Summary; summary.go), written at
// append; migrations/sqlite/0004_list_summary.sql built them as JSON
// (keys "from", "to", "cc", "bcc", absent when empty) from stored Meta.
type ListAddresses struct {
	From []mimetree.Address `json:"from,omitempty"`
	To   []mimetree.Address `json:"to,omitempty"`
	Cc   []mimetree.Address `json:"cc,omitempty"`
	Bcc  []mimetree.Address `json:"bcc,omitempty"`
}

// encodeSummary builds the Summary of a message at append.
// (summary.go has the format).
func encodeSummary(meta *mimetree.Meta) ([]byte, error) {
	return appendSummary(nil, &ListAddresses{From: meta.From, To: meta.To, Cc: meta.Cc, Bcc: meta.Bcc}), nil
}

// Addresses returns the address lists of a stored message: decoded from
// its Summary when it has one, otherwise from its Meta (see
// metaAddresses); a message with neither has none.
func Addresses(m *store.Message) (*ListAddresses, error) {
	if len(m.Summary) > 0 && m.Summary[0] == summaryV1 {
		a, err := decodeSummary(m.Summary)
		if err != nil {
			return nil, fmt.Errorf("message %s: decode summary: %w", m.ID, err)
		}
		return a, nil
	}
	if len(m.Summary) > 0 { // JSON, from migration 0004
		var a ListAddresses
		if err := json.Unmarshal(m.Summary, &a); err != nil {
			return nil, fmt.Errorf("message %s: decode summary: %w", m.ID, err)
		}
		return &a, nil
	}
	if len(m.Meta) == 0 {
		return &ListAddresses{}, nil
	}
	return metaAddresses(m)
}

// metaAddresses decodes only the address lists of a stored message's Meta.
// It walks the top-level JSON object key by key, skipping the values it
// does not need (MIME tree, ENVELOPE, BODYSTRUCTURE, headers) with a byte
// scanner that only tracks strings and nesting, and decodes just the
// "from", "to", "cc" and "bcc" values. It stops at "date", which
// encoding/json writes right after the address lists (mimetree.Meta's
// field order), so the text and HTML that follow are never read.
//
// Invariant: Meta is well-formed JSON written by encoding/json (RFC 8259);
// the scanner reports malformed input as an error but does not validate
// the skipped values beyond their string and bracket structure.
func metaAddresses(m *store.Message) (*ListAddresses, error) {
	var a ListAddresses
	b := m.Meta
	bad := func(err error) (*ListAddresses, error) {
		return nil, fmt.Errorf("message %s: decode meta: %w", m.ID, err)
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return bad(errors.New("not an object"))
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return bad(io.ErrUnexpectedEOF)
		}
		if b[i] == '}' {
			return &a, nil
		}
		if b[i] != '"' {
			return bad(fmt.Errorf("offset %d: expected a key", i))
		}
		end, err := skipString(b, i)
		if err != nil {
			return bad(err)
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return bad(fmt.Errorf("offset %d: expected ':'", i))
		}
		i = skipSpace(b, i+1)
		var dst *[]mimetree.Address
		switch string(key) { // no allocation: the compiler compares in place
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
		}
		vend, err := skipValue(b, i)
		if err != nil {
			return bad(err)
		}
		if dst != nil {
			if err := json.Unmarshal(b[i:vend], dst); err != nil {
				return bad(err)
			}
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// skipSpace returns the index of the first non-whitespace byte at or after
// i (RFC 8259 §2 insignificant whitespace).
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at
// b[i] == '"'. A quote inside a string is always escaped (RFC 8259 §7), so
// the string ends at the first quote preceded by an even number of
// backslashes.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, fmt.Errorf("offset %d: unterminated string", i)
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		j++
		if n%2 == 0 {
			return j, nil
		}
	}
}

// skipValue returns the index just past the JSON value starting at b[i],
// tracking only strings and the nesting of objects and arrays.
func skipValue(b []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(b); {
		switch c := b[j]; c {
		case '"':
			e, err := skipString(b, j)
			if err != nil {
				return 0, err
			}
			j = e
		case '{', '[':
			depth++
			j++
		case '}', ']':
			if depth == 0 {
				return j, nil // end of the enclosing object
			}
			depth--
			j++
		case ',':
			if depth == 0 {
				return j, nil
			}
			j++
		default:
			j++
		}
		if depth == 0 && j > i && (b[j-1] == '"' || b[j-1] == '}' || b[j-1] == ']') {
			return j, nil
		}
	}
	if depth != 0 {
		return 0, fmt.Errorf("offset %d: unterminated value", i)
	}
	return len(b), nil
}
