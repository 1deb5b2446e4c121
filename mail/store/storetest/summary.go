package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// testSummary: the list summary given at append comes back unchanged from
// Fetch with and without Meta, from GetMessage, and after Copy and Move;
// without Meta, Fetch returns no Meta and no segments.
func testSummary(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("sum")
	mb := h.mailbox(u, "INBOX")
	other := h.mailbox(u, "Archive")
	want := []byte(`{"from":[{"name":"Ann","addr":"ann@example.com"}],"to":[{"addr":"jan@example.com"}]}`)
	nm := h.msg(spec{Subject: "summary", Meta: []byte(`{"parts":1}`)})
	nm.Summary = want
	m, err := s.Append(ctx, u.ID, mb.ID, nm)
	noErr(t, "Append", err)
	if !bytes.Equal(m.Summary, want) {
		t.Fatalf("Append returned Summary %q, want %q", m.Summary, want)
	}
	plain := h.append(u, mb, spec{Subject: "no summary"})

	for _, withMeta := range []bool{false, true} {
		ms, err := s.Fetch(ctx, u.ID, mb.ID, set(m.UID, plain.UID), withMeta)
		noErr(t, "Fetch", err)
		if len(ms) != 2 {
			t.Fatalf("Fetch(withMeta=%v) = %d messages, want 2", withMeta, len(ms))
		}
		if !bytes.Equal(ms[0].Summary, want) || len(ms[1].Summary) != 0 {
			t.Fatalf("Fetch(withMeta=%v) summaries %q and %q, want %q and none", withMeta, ms[0].Summary, ms[1].Summary, want)
		}
		if ms[0].MailboxID != mb.ID || ms[0].UserID != u.ID || ms[0].Subject != "summary" {
			t.Fatalf("Fetch(withMeta=%v) = mailbox %q user %q subject %q", withMeta, ms[0].MailboxID, ms[0].UserID, ms[0].Subject)
		}
		if !withMeta && (ms[0].Meta != nil || ms[0].Segments != nil) {
			t.Fatalf("Fetch(withMeta=false) returned Meta %q and %d segments", ms[0].Meta, len(ms[0].Segments))
		}
		if withMeta && (string(ms[0].Meta) != `{"parts":1}` || len(ms[0].Segments) == 0) {
			t.Fatalf("Fetch(withMeta=true) returned Meta %q and %d segments", ms[0].Meta, len(ms[0].Segments))
		}
	}
	g, err := s.GetMessage(ctx, u.ID, m.ID)
	noErr(t, "GetMessage", err)
	if !bytes.Equal(g.Summary, want) || g.MailboxID != mb.ID || g.UserID != u.ID {
		t.Fatalf("GetMessage = summary %q mailbox %q user %q", g.Summary, g.MailboxID, g.UserID)
	}

	cp, err := s.Copy(ctx, u.ID, mb.ID, set(m.UID), other.ID)
	noErr(t, "Copy", err)
	ms, err := s.Fetch(ctx, u.ID, other.ID, set(cp.Pairs[0].Dst), false)
	noErr(t, "Fetch copy", err)
	if len(ms) != 1 || !bytes.Equal(ms[0].Summary, want) {
		t.Fatalf("copy: %d messages, summary %q", len(ms), summaryOf(ms))
	}
	mv, err := s.Move(ctx, u.ID, mb.ID, set(m.UID), other.ID)
	noErr(t, "Move", err)
	ms, err = s.Fetch(ctx, u.ID, other.ID, set(mv.Pairs[0].Dst), false)
	noErr(t, "Fetch moved", err)
	if len(ms) != 1 || !bytes.Equal(ms[0].Summary, want) || ms[0].MailboxID != other.ID {
		t.Fatalf("move: %d messages, summary %q", len(ms), summaryOf(ms))
	}
	h.consistent()
}

func summaryOf(ms []store.Message) []byte {
	if len(ms) == 0 {
		return nil
	}
	return ms[0].Summary
}

// testFetchRefs: a store with FetchRefs (store.RefFetcher) returns the
// refs Fetch without Meta returns, for a few sets.
func testFetchRefs(t *testing.T, h *harness) {
	rf, ok := h.s.(store.RefFetcher)
	if !ok {
		t.Skip("the store has no FetchRefs")
	}
	s, ctx := h.s, h.ctx
	u := h.user("refs")
	mb := h.mailbox(u, "INBOX")
	ms := h.appendN(u, mb, 6)
	_, err := s.StoreFlags(ctx, u.ID, mb.ID, set(ms[1].UID, ms[4].UID), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen, "$K"}})
	noErr(t, "StoreFlags", err)
	_, err = s.Delete(ctx, u.ID, mb.ID, set(ms[2].UID))
	noErr(t, "Delete", err)
	for _, sel := range []store.UIDSet{all(), set(ms[1].UID, ms[2].UID, ms[5].UID), {{Start: ms[5].UID + 1}}, {}} {
		got, err := rf.FetchRefs(ctx, u.ID, mb.ID, sel)
		noErr(t, "FetchRefs", err)
		full, err := s.Fetch(ctx, u.ID, mb.ID, sel, false)
		noErr(t, "Fetch", err)
		if len(got) != len(full) {
			t.Fatalf("FetchRefs(%v) = %d refs, Fetch = %d messages", sel, len(got), len(full))
		}
		for i := range got {
			g, w := got[i], full[i].MessageRef
			if g.UID != w.UID || g.ModSeq != w.ModSeq || g.ID != w.ID || strings.Join(g.Flags, " ") != strings.Join(w.Flags, " ") {
				t.Fatalf("FetchRefs(%v)[%d] = %+v, Fetch has %+v", sel, i, g, w)
			}
		}
	}
	if _, err := rf.FetchRefs(ctx, u.ID, "no-such-mailbox", all()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FetchRefs on an unknown mailbox: %v", err)
	}
}
