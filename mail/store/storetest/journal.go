package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

func describe(chs []store.Change) string {
	var b strings.Builder
	for _, c := range chs {
		fmt.Fprintf(&b, "\n  seq=%d %s mbox=%s uid=%d modseq=%d flags=%v name=%q old=%q", c.Seq, c.Kind, c.MailboxID, c.UID, c.ModSeq, c.Flags, c.Name, c.OldName)
	}
	return b.String()
}

func testJournal(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("jo")
	start, err := s.LastChange(ctx, u.ID)
	noErr(t, "LastChange", err)
	mb, err := s.CreateMailbox(ctx, u.ID, "J", "")
	noErr(t, "CreateMailbox", err)
	m1 := h.append(u, mb, spec{Subject: "one", Flags: []string{store.FlagSeen}})
	m2 := h.append(u, mb, spec{Subject: "two"})
	fr, err := s.StoreFlags(ctx, u.ID, mb.ID, set(2), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted}})
	noErr(t, "StoreFlags", err)
	xr, err := s.Expunge(ctx, u.ID, mb.ID, nil)
	noErr(t, "Expunge", err)
	_, err = s.RenameMailbox(ctx, u.ID, mb.ID, "K")
	noErr(t, "RenameMailbox", err)
	noErr(t, "SetSubscribed", s.SetSubscribed(ctx, u.ID, mb.ID, false))
	tmp := h.mailbox(u, "Tmp")
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, u.ID, tmp.ID))

	chs, err := s.Changes(ctx, u.ID, "", start, 0)
	noErr(t, "Changes", err)
	type want struct {
		kind   store.ChangeKind
		mbox   string
		uid    uint32
		modseq uint64
		msgID  string
	}
	wants := []want{
		{store.ChangeMailboxCreate, mb.ID, 0, 0, ""},
		{store.ChangeExists, mb.ID, 1, m1.ModSeq, m1.ID},
		{store.ChangeExists, mb.ID, 2, m2.ModSeq, m2.ID},
		{store.ChangeFlags, mb.ID, 2, fr.ModSeq, m2.ID},
		{store.ChangeExpunge, mb.ID, 2, xr.ModSeq, m2.ID},
		{store.ChangeMailboxRename, mb.ID, 0, 0, ""},
		{store.ChangeMailboxSubscribe, mb.ID, 0, 0, ""},
		{store.ChangeMailboxCreate, tmp.ID, 0, 0, ""},
		{store.ChangeMailboxDelete, tmp.ID, 0, 0, ""},
	}
	if len(chs) != len(wants) {
		t.Fatalf("journal has %d entries, want %d:%s", len(chs), len(wants), describe(chs))
	}
	prev := start
	for i, w := range wants {
		c := chs[i]
		if c.Seq <= prev || c.Kind != w.kind || c.MailboxID != w.mbox || c.UID != w.uid || c.ModSeq != w.modseq ||
			c.MessageID != w.msgID || c.UserID != u.ID || c.Time.IsZero() {
			t.Fatalf("journal entry %d = %+v, want %+v (seq > %d):%s", i, c, w, prev, describe(chs))
		}
		prev = c.Seq
	}
	if !slices.Equal(chs[1].Flags, []string{store.FlagSeen}) {
		t.Fatalf("exists entry flags %v, want [\\Seen]", chs[1].Flags)
	}
	if !slices.Equal(chs[3].Flags, []string{store.FlagDeleted}) {
		t.Fatalf("flags entry flags %v, want [\\Deleted]", chs[3].Flags)
	}
	if chs[5].Name != "K" || chs[5].OldName != "J" {
		t.Fatalf("rename entry names %q <- %q", chs[5].Name, chs[5].OldName)
	}
	if chs[8].Name != "Tmp" {
		t.Fatalf("delete entry name %q", chs[8].Name)
	}
	last, err := s.LastChange(ctx, u.ID)
	noErr(t, "LastChange", err)
	if last != chs[len(chs)-1].Seq {
		t.Fatalf("LastChange = %d, want %d", last, chs[len(chs)-1].Seq)
	}
	// Mailbox filter and limit.
	mchs, err := s.Changes(ctx, u.ID, mb.ID, start, 0)
	noErr(t, "Changes(mailbox)", err)
	if len(mchs) != 7 {
		t.Fatalf("Changes(mailbox) = %d entries, want 7:%s", len(mchs), describe(mchs))
	}
	lim, err := s.Changes(ctx, u.ID, "", start, 3)
	noErr(t, "Changes(limit)", err)
	if len(lim) != 3 || lim[2].Seq != chs[2].Seq {
		t.Fatalf("Changes(limit 3) = %s", describe(lim))
	}
	rest, err := s.Changes(ctx, u.ID, "", lim[2].Seq, 0)
	noErr(t, "Changes(after)", err)
	if len(rest) != len(chs)-3 {
		t.Fatalf("Changes(after %d) = %d entries, want %d", lim[2].Seq, len(rest), len(chs)-3)
	}
	// Other users' entries are not visible; their Seq still orders globally.
	v := h.user("vo")
	vmb := h.mailbox(v, "INBOX")
	h.appendN(v, vmb, 1)
	again, err := s.Changes(ctx, u.ID, "", start, 0)
	noErr(t, "Changes", err)
	if len(again) != len(chs) {
		t.Fatalf("another user's changes leaked into the journal: %s", describe(again))
	}
	vl, _ := s.LastChange(ctx, v.ID)
	if vl <= last {
		t.Fatalf("later commit of another user got Seq %d <= %d", vl, last)
	}
}

func testJournalPrune(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("pru")
	a := h.mailbox(u, "INBOX")
	b := h.mailbox(u, "B")
	h.appendN(u, a, 5)
	h.appendN(u, b, 2)
	last, _ := s.LastChange(ctx, u.ID)
	n, err := s.PruneJournal(ctx, time.Hour)
	noErr(t, "PruneJournal(1h)", err)
	if n != 0 {
		t.Fatalf("PruneJournal(1h) removed %d fresh entries", n)
	}
	time.Sleep(10 * time.Millisecond)
	n, err = s.PruneJournal(ctx, time.Millisecond)
	noErr(t, "PruneJournal(1ms)", err)
	if n == 0 {
		t.Fatal("PruneJournal removed nothing")
	}
	chs, err := s.Changes(ctx, u.ID, "", 0, 0)
	noErr(t, "Changes", err)
	// A backend may keep each mailbox's newest entry (SQLite) or none
	// (MongoDB, whose TTL index cannot keep any); LastChange must not move
	// either way.
	per := map[string]int{}
	for _, c := range chs {
		per[c.MailboxID]++
	}
	for _, mb := range []*store.Mailbox{a, b} {
		if per[mb.ID] > 1 {
			t.Fatalf("after prune mailbox %s keeps %d entries, want at most its newest:%s", mb.Name, per[mb.ID], describe(chs))
		}
	}
	if l, _ := s.LastChange(ctx, u.ID); l != last {
		t.Fatalf("LastChange %d after prune, want %d", l, last)
	}
	for _, c := range chs {
		if c.MailboxID == b.ID && (c.Kind != store.ChangeExists || c.UID != 2) {
			t.Fatalf("prune kept %+v for B, want its newest entry (exists UID 2) or none", c)
		}
	}
	// Changes after the pruned range still arrive, with a Seq above last.
	h.appendN(u, a, 1)
	after, err := s.Changes(ctx, u.ID, "", last, 0)
	noErr(t, "Changes(after prune)", err)
	if len(after) != 1 || after[0].Seq <= last || after[0].Kind != store.ChangeExists {
		t.Fatalf("after prune, Changes(after %d) = %s, want the one new append", last, describe(after))
	}
}
