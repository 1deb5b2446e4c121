package storetest

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

func testDefaultMailboxes(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("dora")
	mbs, err := s.ListMailboxes(ctx, u.ID)
	noErr(t, "ListMailboxes", err)
	if len(mbs) != len(store.DefaultMailboxes) {
		t.Fatalf("new user has %d mailboxes, want %d", len(mbs), len(store.DefaultMailboxes))
	}
	byName := map[string]store.Mailbox{}
	var names []string
	for _, mb := range mbs {
		byName[mb.Name] = mb
		names = append(names, mb.Name)
		if mb.UserID != u.ID || mb.UIDNext != 1 || mb.HighestModSeq != 0 || mb.UIDValidity == 0 || !mb.Subscribed {
			t.Fatalf("default mailbox %+v: want owner, UIDNext 1, HighestModSeq 0, UIDValidity > 0, subscribed", mb)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Fatalf("ListMailboxes not ordered by name: %q", names)
	}
	for _, d := range store.DefaultMailboxes {
		mb, ok := byName[d.Name]
		if !ok || mb.SpecialUse != d.SpecialUse {
			t.Fatalf("default mailbox %q special-use %q missing (got %+v)", d.Name, d.SpecialUse, mb)
		}
		if d.SpecialUse != "" {
			f, err := s.FindSpecialUse(ctx, u.ID, d.SpecialUse)
			if err != nil || f.ID != mb.ID {
				t.Fatalf("FindSpecialUse(%s) = %v, %v", d.SpecialUse, f, err)
			}
		}
	}
	for _, n := range []string{"INBOX", "inbox", "InBoX"} {
		mb, err := s.FindMailbox(ctx, u.ID, n)
		if err != nil || mb.Name != "INBOX" || mb.ID != byName["INBOX"].ID {
			t.Fatalf("FindMailbox(%q) = %v, %v; want INBOX", n, mb, err)
		}
	}
	_, err = s.FindMailbox(ctx, u.ID, "drafts")
	wantErr(t, "FindMailbox(wrong case of non-INBOX)", err, store.ErrNotFound)
	_, err = s.FindSpecialUse(ctx, u.ID, `\Archive`)
	wantErr(t, "FindSpecialUse(absent)", err, store.ErrNotFound)
	_, err = s.CreateMailbox(ctx, u.ID, "inbox", "")
	wantErr(t, "CreateMailbox(inbox)", err, store.ErrExists)
}

func testMailboxNames(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("eve")
	for _, bad := range []string{"", "/", "/a", "a/", "a//b", "a\x00b", "tab\there", "nl\nx", "del\x7f", strings.Repeat("x", 1025)} {
		_, err := s.CreateMailbox(ctx, u.ID, bad, "")
		wantErr(t, "CreateMailbox("+strings.ToValidUTF8(bad[:min(len(bad), 20)], "?")+")", err, store.ErrInvalidName)
	}
	for _, good := range []string{"Work", "Вложенные", "a b", "x.y", strings.Repeat("y", 1024)} {
		mb, err := s.CreateMailbox(ctx, u.ID, good, "")
		noErr(t, "CreateMailbox(valid name)", err)
		if mb.Name != good {
			t.Fatalf("CreateMailbox(%q) name = %q", good, mb.Name)
		}
	}
	_, err := s.CreateMailbox(ctx, u.ID, "Work", "")
	wantErr(t, "CreateMailbox(duplicate)", err, store.ErrExists)
	_, err = s.CreateMailbox(ctx, u.ID, "Archive", `\Archive`)
	noErr(t, "CreateMailbox(special-use)", err)
	if f, err := s.FindSpecialUse(ctx, u.ID, `\Archive`); err != nil || f.Name != "Archive" {
		t.Fatalf("FindSpecialUse(new \\Archive) = %v, %v", f, err)
	}
	_, err = s.CreateMailbox(ctx, "000000000000000000000000", "X", "")
	wantErr(t, "CreateMailbox(unknown user)", err, store.ErrNotFound)
}

func testMailboxHierarchy(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("fay")
	_, err := s.CreateMailbox(ctx, u.ID, "a/b", "")
	wantErr(t, "CreateMailbox(no parent)", err, store.ErrNoSuchParent)
	h.mailbox(u, "a")
	h.mailbox(u, "a/b")
	h.mailbox(u, "a/b/c")
	sub, err := s.CreateMailbox(ctx, u.ID, "inbox/Sub", "")
	noErr(t, "CreateMailbox(inbox/Sub)", err)
	if sub.Name != "INBOX/Sub" {
		t.Fatalf("inbox/Sub stored as %q, want INBOX/Sub", sub.Name)
	}
	f, err := s.FindMailbox(ctx, u.ID, "Inbox/Sub")
	if err != nil || f.ID != sub.ID {
		t.Fatalf("FindMailbox(Inbox/Sub) = %v, %v", f, err)
	}
	mbs, err := s.ListMailboxes(ctx, u.ID)
	noErr(t, "ListMailboxes", err)
	var names []string
	uv := map[uint32]bool{}
	for _, mb := range mbs {
		names = append(names, mb.Name)
		if uv[mb.UIDValidity] {
			t.Fatalf("UIDValidity %d used by two mailboxes", mb.UIDValidity)
		}
		uv[mb.UIDValidity] = true
	}
	for _, want := range []string{"a", "a/b", "a/b/c", "INBOX/Sub"} {
		if !slices.Contains(names, want) {
			t.Fatalf("ListMailboxes = %q, missing %q", names, want)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Fatalf("ListMailboxes not sorted: %q", names)
	}
}

func testRenameMailbox(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("gus")
	a := h.mailbox(u, "a")
	ab := h.mailbox(u, "a/b")
	abc := h.mailbox(u, "a/b/c")
	ax := h.mailbox(u, "ax") // shares the prefix "a" but is not an inferior
	h.appendN(u, ab, 2)
	h.mailbox(u, "z")

	r, err := s.RenameMailbox(ctx, u.ID, a.ID, "z/new")
	noErr(t, "RenameMailbox(a -> z/new)", err)
	if r.ID != a.ID || r.Name != "z/new" || r.UIDValidity != a.UIDValidity {
		t.Fatalf("renamed = %+v, want same ID and UIDValidity, name z/new", r)
	}
	for id, want := range map[string]string{ab.ID: "z/new/b", abc.ID: "z/new/b/c", ax.ID: "ax"} {
		if mb := h.getMailbox(u, id); mb.Name != want {
			t.Fatalf("after rename, mailbox %s is %q, want %q", id, mb.Name, want)
		}
	}
	if refs := h.refs(u, h.getMailbox(u, ab.ID)); len(refs) != 2 {
		t.Fatalf("renamed inferior lost messages: %d", len(refs))
	}
	_, err = s.FindMailbox(ctx, u.ID, "a/b")
	wantErr(t, "FindMailbox(old inferior name)", err, store.ErrNotFound)

	inbox := h.mailbox(u, "INBOX")
	_, err = s.RenameMailbox(ctx, u.ID, inbox.ID, "Old")
	wantErr(t, "RenameMailbox(INBOX)", err, store.ErrInvalidName)
	_, err = s.RenameMailbox(ctx, u.ID, ax.ID, "z")
	wantErr(t, "RenameMailbox(to existing)", err, store.ErrExists)
	_, err = s.RenameMailbox(ctx, u.ID, ax.ID, "INBOX")
	wantErr(t, "RenameMailbox(to INBOX)", err, store.ErrExists)
	_, err = s.RenameMailbox(ctx, u.ID, ax.ID, "nope/ax")
	wantErr(t, "RenameMailbox(missing parent)", err, store.ErrNoSuchParent)
	_, err = s.RenameMailbox(ctx, u.ID, ax.ID, "bad//name")
	wantErr(t, "RenameMailbox(invalid)", err, store.ErrInvalidName)

	// INBOX inferiors rename like any mailbox, and can move under INBOX.
	sub := h.mailbox(u, "INBOX/x")
	h.mailbox(u, "INBOX/x/y")
	r, err = s.RenameMailbox(ctx, u.ID, sub.ID, "top")
	noErr(t, "RenameMailbox(INBOX/x -> top)", err)
	if _, err := s.FindMailbox(ctx, u.ID, "top/y"); err != nil {
		t.Fatalf("INBOX/x/y not renamed to top/y: %v", err)
	}
	r, err = s.RenameMailbox(ctx, u.ID, r.ID, "inbox/back")
	noErr(t, "RenameMailbox(top -> inbox/back)", err)
	if r.Name != "INBOX/back" {
		t.Fatalf("rename to inbox/back gave %q, want INBOX/back", r.Name)
	}
	if _, err := s.FindMailbox(ctx, u.ID, "INBOX/back/y"); err != nil {
		t.Fatalf("inferior not renamed to INBOX/back/y: %v", err)
	}
	// Special-use survives a rename.
	sent, err := s.FindSpecialUse(ctx, u.ID, store.SpecialSent)
	noErr(t, "FindSpecialUse(Sent)", err)
	_, err = s.RenameMailbox(ctx, u.ID, sent.ID, "Outbox")
	noErr(t, "RenameMailbox(Sent)", err)
	if f, err := s.FindSpecialUse(ctx, u.ID, store.SpecialSent); err != nil || f.Name != "Outbox" {
		t.Fatalf("special-use lost in rename: %v, %v", f, err)
	}
}

func testDeleteMailbox(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("hal")
	inbox := h.mailbox(u, "INBOX")
	wantErr(t, "DeleteMailbox(INBOX)", s.DeleteMailbox(ctx, u.ID, inbox.ID), store.ErrSpecialUse)
	trash, err := s.FindSpecialUse(ctx, u.ID, store.SpecialTrash)
	noErr(t, "FindSpecialUse(Trash)", err)
	wantErr(t, "DeleteMailbox(Trash)", s.DeleteMailbox(ctx, u.ID, trash.ID), store.ErrSpecialUse)
	p := h.mailbox(u, "p")
	c := h.mailbox(u, "p/c")
	wantErr(t, "DeleteMailbox(with inferiors)", s.DeleteMailbox(ctx, u.ID, p.ID), store.ErrHasChildren)
	h.appendN(u, c, 3)
	h.appendN(u, inbox, 1)
	before, _ := s.GetUser(ctx, u.ID)
	noErr(t, "DeleteMailbox(leaf with messages)", s.DeleteMailbox(ctx, u.ID, c.ID))
	_, err = s.GetMailbox(ctx, u.ID, c.ID)
	wantErr(t, "GetMailbox(deleted)", err, store.ErrNotFound)
	after, _ := s.GetUser(ctx, u.ID)
	ic := h.counters(u, inbox)
	if after.StorageUsed != ic.Size || after.StorageUsed >= before.StorageUsed {
		t.Fatalf("StorageUsed %d -> %d after deleting a mailbox, want the INBOX size %d", before.StorageUsed, after.StorageUsed, ic.Size)
	}
	noErr(t, "DeleteMailbox(now childless)", s.DeleteMailbox(ctx, u.ID, p.ID))
	// Recreated mailbox gets a new UIDVALIDITY.
	p2 := h.mailbox(u, "p")
	if p2.UIDValidity == p.UIDValidity || p2.ID == p.ID {
		t.Fatalf("recreated mailbox reuses UIDValidity %d / ID", p.UIDValidity)
	}
	wantErr(t, "DeleteMailbox(again)", s.DeleteMailbox(ctx, u.ID, c.ID), store.ErrNotFound)
}

func testSubscribe(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("ida")
	mb := h.mailbox(u, "news")
	noErr(t, "SetSubscribed(false)", s.SetSubscribed(ctx, u.ID, mb.ID, false))
	if h.getMailbox(u, mb.ID).Subscribed {
		t.Fatal("still subscribed after SetSubscribed(false)")
	}
	noErr(t, "SetSubscribed(true)", s.SetSubscribed(ctx, u.ID, mb.ID, true))
	if !h.getMailbox(u, mb.ID).Subscribed {
		t.Fatal("not subscribed after SetSubscribed(true)")
	}
}

// testOwnership checks that every method taking a userID refuses objects of
// another user with ErrNotFound.
func testOwnership(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	a, b := h.user("owner"), h.user("intruder")
	mb := h.mailbox(a, "INBOX")
	m := h.appendN(a, mb, 1)[0]
	bin := h.mailbox(b, "INBOX")
	var err error
	_, err = s.GetMailbox(ctx, b.ID, mb.ID)
	wantErr(t, "GetMailbox(other's)", err, store.ErrNotFound)
	_, err = s.ListRefs(ctx, b.ID, mb.ID)
	wantErr(t, "ListRefs(other's)", err, store.ErrNotFound)
	_, err = s.Fetch(ctx, b.ID, mb.ID, all(), true)
	wantErr(t, "Fetch(other's)", err, store.ErrNotFound)
	_, err = s.GetMessage(ctx, b.ID, m.ID)
	wantErr(t, "GetMessage(other's)", err, store.ErrNotFound)
	_, err = s.StoreFlags(ctx, b.ID, mb.ID, all(), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	wantErr(t, "StoreFlags(other's)", err, store.ErrNotFound)
	_, err = s.Copy(ctx, b.ID, mb.ID, all(), bin.ID)
	wantErr(t, "Copy(from other's)", err, store.ErrNotFound)
	_, err = s.Copy(ctx, a.ID, mb.ID, all(), bin.ID)
	wantErr(t, "Copy(into other's)", err, store.ErrNotFound)
	_, err = s.Move(ctx, a.ID, mb.ID, all(), bin.ID)
	wantErr(t, "Move(into other's)", err, store.ErrNotFound)
	_, err = s.Expunge(ctx, b.ID, mb.ID, nil)
	wantErr(t, "Expunge(other's)", err, store.ErrNotFound)
	_, err = s.Delete(ctx, b.ID, mb.ID, all())
	wantErr(t, "Delete(other's)", err, store.ErrNotFound)
	_, err = s.Search(ctx, b.ID, mb.ID, &store.Criteria{})
	wantErr(t, "Search(other's)", err, store.ErrNotFound)
	_, err = s.ChangedSince(ctx, b.ID, mb.ID, 0)
	wantErr(t, "ChangedSince(other's)", err, store.ErrNotFound)
	_, err = s.Counters(ctx, b.ID, mb.ID)
	wantErr(t, "Counters(other's)", err, store.ErrNotFound)
	_, err = s.RenameMailbox(ctx, b.ID, h.mailbox(a, "x").ID, "y")
	wantErr(t, "RenameMailbox(other's)", err, store.ErrNotFound)
	wantErr(t, "DeleteMailbox(other's)", s.DeleteMailbox(ctx, b.ID, h.mailbox(a, "x").ID), store.ErrNotFound)
	wantErr(t, "SetSubscribed(other's)", s.SetSubscribed(ctx, b.ID, mb.ID, false), store.ErrNotFound)
	_, err = s.Append(ctx, b.ID, mb.ID, h.msg(spec{Subject: "x"}))
	wantErr(t, "Append(other's)", err, store.ErrNotFound)
	if refs := h.refs(a, mb); len(refs) != 1 || len(refs[0].Flags) != 0 {
		t.Fatalf("refused operations changed the mailbox: %+v", refs)
	}
}
