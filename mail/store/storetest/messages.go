package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

func testAppendFetch(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("jan")
	mb := h.mailbox(u, "INBOX")
	idate := time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC)
	date := time.Date(2024, 3, 5, 9, 0, 0, 0, time.FixedZone("X", 3600))
	sp := spec{Subject: "Hello ünïcode", From: "Ann <ann@example.com>", To: "jan@example.com", Body: "Body text",
		Flags: []string{store.FlagFlagged}, InternalDate: idate, Date: date, MessageID: "m1@example.com",
		Meta: []byte(`{"parts":1}`)}
	nm := h.msg(sp)
	m, err := s.Append(ctx, u.ID, mb.ID, nm)
	noErr(t, "Append", err)
	if m.UID != 1 || m.ModSeq == 0 || m.ID == "" || m.MailboxID != mb.ID || m.UserID != u.ID || m.ThreadID == "" {
		t.Fatalf("Append returned %+v", m)
	}
	if !m.InternalDate.Equal(idate) || m.Size != nm.Size || !slices.Equal(m.Flags, []string{store.FlagFlagged}) {
		t.Fatalf("Append returned date %v size %d flags %v", m.InternalDate, m.Size, m.Flags)
	}
	var last = m
	var prevModSeq = m.ModSeq
	for i := 2; i <= 5; i++ {
		mm := h.append(u, mb, spec{Subject: fmt.Sprintf("n%d", i)})
		if mm.UID != uint32(i) || mm.ModSeq <= prevModSeq {
			t.Fatalf("append #%d: UID %d MODSEQ %d (previous MODSEQ %d): want UID %d and a greater MODSEQ", i, mm.UID, mm.ModSeq, prevModSeq, i)
		}
		prevModSeq = mm.ModSeq
		last = mm
	}
	if time.Since(last.InternalDate) > time.Minute || time.Since(last.InternalDate) < -time.Minute {
		t.Fatalf("zero InternalDate not set to now: %v", last.InternalDate)
	}
	got := h.getMailbox(u, mb.ID)
	if got.UIDNext != 6 || got.HighestModSeq != prevModSeq {
		t.Fatalf("mailbox UIDNext %d HighestModSeq %d, want 6 and %d", got.UIDNext, got.HighestModSeq, prevModSeq)
	}

	refs := h.refs(u, mb)
	if len(refs) != 5 {
		t.Fatalf("ListRefs = %d refs, want 5", len(refs))
	}
	for i, r := range refs {
		if r.UID != uint32(i+1) || r.ID == "" || r.Flags == nil && i == 0 {
			t.Fatalf("ListRefs[%d] = %+v", i, r)
		}
	}

	ms, err := s.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1, Stop: 1}, {Start: 4}}, true)
	noErr(t, "Fetch", err)
	if len(ms) != 3 || ms[0].UID != 1 || ms[1].UID != 4 || ms[2].UID != 5 {
		t.Fatalf("Fetch(1,4:*) UIDs = %v", func() []uint32 {
			var u []uint32
			for _, m := range ms {
				u = append(u, m.UID)
			}
			return u
		}())
	}
	f := ms[0]
	if f.ID != m.ID || f.Subject != sp.Subject || f.From != sp.From || f.MessageID != sp.MessageID ||
		!f.Date.Equal(date) || !f.InternalDate.Equal(idate) || f.Size != nm.Size || f.ThreadID != m.ThreadID ||
		f.Intro != nm.Intro || !bytes.Equal(f.Meta, sp.Meta) || f.MailboxID != mb.ID || f.UserID != u.ID {
		t.Fatalf("Fetch(withMeta) = %+v\nwant fields of %+v", f, sp)
	}
	if !bytes.Equal(h.rawOf(f.Segments), h.rawOf(nm.Segments)) {
		t.Fatal("Fetch segments do not rebuild the appended bytes")
	}
	ms, err = s.Fetch(ctx, u.ID, mb.ID, set(2), false)
	noErr(t, "Fetch(no meta)", err)
	if len(ms) != 1 || ms[0].Segments != nil || ms[0].Meta != nil {
		t.Fatalf("Fetch(withMeta=false) returned segments/meta: %+v", ms)
	}
	ms, err = s.Fetch(ctx, u.ID, mb.ID, set(99), true)
	noErr(t, "Fetch(missing uid)", err)
	if len(ms) != 0 {
		t.Fatalf("Fetch(99) = %d messages", len(ms))
	}
	g, err := s.GetMessage(ctx, u.ID, m.ID)
	noErr(t, "GetMessage", err)
	if g.UID != 1 || g.MailboxID != mb.ID || !bytes.Equal(g.Meta, sp.Meta) || len(g.Segments) != len(nm.Segments) {
		t.Fatalf("GetMessage = %+v", g)
	}
	_, err = s.GetMessage(ctx, u.ID, "000000000000000000000000")
	wantErr(t, "GetMessage(unknown)", err, store.ErrNotFound)
	_, err = s.Append(ctx, u.ID, "000000000000000000000000", h.msg(spec{}))
	wantErr(t, "Append(unknown mailbox)", err, store.ErrNotFound)
	bad := h.msg(spec{Subject: "bad"})
	bad.Size++
	_, err = s.Append(ctx, u.ID, mb.ID, bad)
	wantErr(t, "Append(size != segments)", err, store.ErrInvalidInput)
	if h.getMailbox(u, mb.ID).UIDNext != 6 {
		t.Fatal("failed Append consumed a UID")
	}
	h.counters(u, mb)
	usr, _ := s.GetUser(ctx, u.ID)
	if c, _ := s.Counters(ctx, u.ID, mb.ID); usr.StorageUsed != c.Size {
		t.Fatalf("StorageUsed %d, want %d", usr.StorageUsed, c.Size)
	}
}

func testOpenMessage(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("kim")
	mb := h.mailbox(u, "INBOX")
	rnd := rand.New(rand.NewSource(7))
	att := make([]byte, 300_000)
	rnd.Read(att)
	nm := h.msg(spec{Subject: "with attachment", Body: "see attached", Blob: att})
	want := h.rawOf(nm.Segments)
	m, err := s.Append(ctx, u.ID, mb.ID, nm)
	noErr(t, "Append(blob)", err)
	if int64(len(want)) != m.Size {
		t.Fatalf("raw size %d != Size %d", len(want), m.Size)
	}
	read := func(mm *store.Message, off, n int64) []byte {
		t.Helper()
		rc, err := s.OpenMessage(ctx, mm, off, n)
		noErr(t, "OpenMessage", err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		noErr(t, fmt.Sprintf("read OpenMessage(%d, %d)", off, n), err)
		return b
	}
	ms, err := s.Fetch(ctx, u.ID, mb.ID, set(m.UID), true)
	noErr(t, "Fetch", err)
	if !bytes.Equal(read(&ms[0], 0, -1), want) {
		t.Fatal("OpenMessage(0,-1) differs from the appended bytes")
	}
	for i := 0; i < 50; i++ {
		off := rnd.Int63n(m.Size)
		n := rnd.Int63n(m.Size - off + 1)
		if !bytes.Equal(read(&ms[0], off, n), want[off:off+n]) {
			t.Fatalf("OpenMessage(%d, %d) wrong bytes", off, n)
		}
	}
	// Without segments (e.g. from Fetch withMeta=false) the store loads them.
	ms, err = s.Fetch(ctx, u.ID, mb.ID, set(m.UID), false)
	noErr(t, "Fetch(no meta)", err)
	if got := read(&ms[0], 10, 100); !bytes.Equal(got, want[10:110]) {
		t.Fatal("OpenMessage on a message without segments returned wrong bytes")
	}
	if got := read(&ms[0], m.Size-5, 100); !bytes.Equal(got, want[m.Size-5:]) {
		t.Fatalf("OpenMessage past the end returned %d bytes, want the last 5", len(got))
	}
}

func testFlagNormalization(t *testing.T, h *harness) {
	u := h.user("lea")
	mb := h.mailbox(u, "INBOX")
	m := h.append(u, mb, spec{Flags: []string{"\\seen", "$Label1", "\\FLAGGED", "$Label1", "\\Seen", "Work"}})
	want := []string{"$Label1", "Work", store.FlagFlagged, store.FlagSeen}
	slices.Sort(want)
	if !slices.Equal(m.Flags, want) {
		t.Fatalf("Append flags = %q, want %q (canonical system flags, sorted, deduplicated)", m.Flags, want)
	}
	if r := h.refByUID(u, mb, m.UID); !slices.Equal(r.Flags, want) {
		t.Fatalf("ListRefs flags = %q, want %q", r.Flags, want)
	}
	res, err := h.s.StoreFlags(h.ctx, u.ID, mb.ID, set(m.UID), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"\\answered", "\\Answered"}})
	noErr(t, "StoreFlags", err)
	want = append(want, store.FlagAnswered)
	slices.Sort(want)
	if len(res.Updated) != 1 || !slices.Equal(res.Updated[0].Flags, want) {
		t.Fatalf("StoreFlags result %+v, want flags %q", res.Updated, want)
	}
	if c := h.counters(u, mb); c.Unseen != 0 {
		t.Fatalf("\\seen (lowercase) not counted as seen: %+v", c)
	}
}

func testThreads(t *testing.T, h *harness) {
	u := h.user("max")
	mb := h.mailbox(u, "INBOX")
	sent := h.mailbox(u, "Sent Mail")
	root := h.append(u, mb, spec{Subject: "plan", MessageID: "root@x"})
	reply := h.append(u, sent, spec{Subject: "Re: plan", MessageID: "r1@x", InReplyTo: "root@x", References: []string{"root@x"}})
	deep := h.append(u, mb, spec{Subject: "Re: plan", MessageID: "r2@x", References: []string{"root@x", "r1@x"}})
	other := h.append(u, mb, spec{Subject: "other", MessageID: "o@x"})
	if reply.ThreadID != root.ThreadID || deep.ThreadID != root.ThreadID {
		t.Fatalf("replies not threaded: root %s reply %s deep %s", root.ThreadID, reply.ThreadID, deep.ThreadID)
	}
	if other.ThreadID == root.ThreadID {
		t.Fatal("unrelated message joined the thread")
	}
	// A reply that arrives before its parent: the parent joins the reply's thread.
	early := h.append(u, mb, spec{Subject: "Re: late", MessageID: "c@x", InReplyTo: "p@x", References: []string{"p@x"}})
	parent := h.append(u, mb, spec{Subject: "late", MessageID: "p@x"})
	if early.ThreadID != parent.ThreadID {
		t.Fatalf("parent arriving after its reply got thread %s, reply has %s", parent.ThreadID, early.ThreadID)
	}
	// Threads are per user.
	v := h.user("nia")
	vm := h.append(v, h.mailbox(v, "INBOX"), spec{Subject: "Re: plan", InReplyTo: "root@x"})
	if vm.ThreadID == root.ThreadID {
		t.Fatal("thread shared across users")
	}
}

func testStoreFlags(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("ola")
	mb := h.mailbox(u, "INBOX")
	ms := h.appendN(u, mb, 5)
	hms := h.getMailbox(u, mb.ID).HighestModSeq
	res, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 2, Stop: 4}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen, "$Work"}})
	noErr(t, "StoreFlags(add)", err)
	if res.ModSeq != hms+1 || len(res.Updated) != 3 || len(res.Modified) != 0 {
		t.Fatalf("StoreFlags(add 2:4) = %+v, want 3 updated with MODSEQ %d", res, hms+1)
	}
	for i, r := range res.Updated {
		if r.UID != uint32(i+2) || r.ModSeq != res.ModSeq || !slices.Equal(r.Flags, []string{"$Work", store.FlagSeen}) || r.ID != ms[i+1].ID {
			t.Fatalf("Updated[%d] = %+v", i, r)
		}
	}
	if c := h.counters(u, mb); c.Unseen != 2 {
		t.Fatalf("Unseen = %d after marking 3 of 5 seen", c.Unseen)
	}
	// Adding again: nothing changes, no MODSEQ consumed.
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 2, Stop: 4}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	noErr(t, "StoreFlags(no-op)", err)
	if res.ModSeq != 0 || len(res.Updated) != 0 || h.getMailbox(u, mb.ID).HighestModSeq != hms+1 {
		t.Fatalf("no-op StoreFlags changed something: %+v", res)
	}
	// Mixed: 1 and 5 change, 2..4 already have it and must keep their MODSEQ.
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, all(), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"$Work"}})
	noErr(t, "StoreFlags(mixed)", err)
	if res.ModSeq != hms+2 || !slices.Equal(uidsOfRefs(res.Updated), []uint32{1, 5}) {
		t.Fatalf("StoreFlags(mixed) = %+v, want UIDs 1,5 at MODSEQ %d", res, hms+2)
	}
	if r := h.refByUID(u, mb, 3); r.ModSeq != hms+1 {
		t.Fatalf("unchanged message 3 got MODSEQ %d, want it untouched at %d", r.ModSeq, hms+1)
	}
	// Remove and Set.
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, set(2), store.FlagUpdate{Mode: store.FlagsRemove, Flags: []string{"\\SEEN", "$work"}})
	noErr(t, "StoreFlags(remove)", err)
	if len(res.Updated) != 1 || len(res.Updated[0].Flags) != 0 {
		t.Fatalf("remove left flags: %+v", res.Updated)
	}
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, set(3), store.FlagUpdate{Mode: store.FlagsSet, Flags: []string{store.FlagDraft}})
	noErr(t, "StoreFlags(set)", err)
	if len(res.Updated) != 1 || !slices.Equal(res.Updated[0].Flags, []string{store.FlagDraft}) {
		t.Fatalf("set flags: %+v", res.Updated)
	}
	if r := h.refByUID(u, mb, 3); !slices.Equal(r.Flags, []string{store.FlagDraft}) || r.ModSeq != res.ModSeq {
		t.Fatalf("ListRefs after set = %+v", r)
	}
	h.counters(u, mb)
	if hm := h.getMailbox(u, mb.ID).HighestModSeq; hm != res.ModSeq {
		t.Fatalf("HighestModSeq %d, want last change %d", hm, res.ModSeq)
	}
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, set(77), store.FlagUpdate{Mode: store.FlagsSet, Flags: []string{store.FlagSeen}})
	noErr(t, "StoreFlags(missing UID)", err)
	if len(res.Updated) != 0 || res.ModSeq != 0 {
		t.Fatalf("StoreFlags on missing UID: %+v", res)
	}
}

func uidsOfRefs(rs []store.MessageRef) []uint32 {
	var out []uint32
	for _, r := range rs {
		out = append(out, r.UID)
	}
	return out
}

func testUnchangedSince(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("pia")
	mb := h.mailbox(u, "INBOX")
	h.appendN(u, mb, 3)
	r2 := h.refByUID(u, mb, 2)
	// Modify 3 after we noted the MODSEQ of 2.
	res, err := s.StoreFlags(ctx, u.ID, mb.ID, set(3), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"$x"}})
	noErr(t, "StoreFlags", err)
	since := r2.ModSeq
	res, err = s.StoreFlags(ctx, u.ID, mb.ID, all(), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}, UnchangedSince: since})
	noErr(t, "StoreFlags(UNCHANGEDSINCE)", err)
	if !slices.Equal(res.Modified, []uint32{3}) {
		t.Fatalf("Modified = %v, want [3] (its MODSEQ is above UNCHANGEDSINCE %d)", res.Modified, since)
	}
	if !slices.Equal(uidsOfRefs(res.Updated), []uint32{1, 2}) {
		t.Fatalf("Updated = %v, want [1 2]", uidsOfRefs(res.Updated))
	}
	if r := h.refByUID(u, mb, 3); slices.Contains(r.Flags, store.FlagSeen) {
		t.Fatal("message failing UNCHANGEDSINCE was changed")
	}
}

func testCopy(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("quinn")
	src := h.mailbox(u, "INBOX")
	dst := h.mailbox(u, "Archive")
	ms := h.appendN(u, src, 4)
	_, err := s.StoreFlags(ctx, u.ID, src.ID, set(2), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen, "$k"}})
	noErr(t, "StoreFlags", err)
	h.appendN(u, dst, 1)
	before, _ := s.GetUser(ctx, u.ID)
	dmb := h.getMailbox(u, dst.ID)
	res, err := s.Copy(ctx, u.ID, src.ID, store.UIDSet{{Start: 4, Stop: 4}, {Start: 1, Stop: 2}}, dst.ID)
	noErr(t, "Copy", err)
	if res.DstUIDValidity != dst.UIDValidity || !slices.Equal(res.Pairs, []store.UIDPair{{Src: 1, Dst: 2}, {Src: 2, Dst: 3}, {Src: 4, Dst: 4}}) {
		t.Fatalf("Copy = %+v, want pairs 1->2 2->3 4->4 in UID order, UIDValidity %d", res, dst.UIDValidity)
	}
	after, _ := s.GetUser(ctx, u.ID)
	want := before.StorageUsed + ms[0].Size + ms[1].Size + ms[3].Size
	if after.StorageUsed != want {
		t.Fatalf("StorageUsed after copy %d, want %d (copies are charged)", after.StorageUsed, want)
	}
	copies, err := s.Fetch(ctx, u.ID, dst.ID, store.UIDSet{{Start: 2}}, true)
	noErr(t, "Fetch copies", err)
	for i, c := range copies {
		orig := ms[[]int{0, 1, 3}[i]]
		if c.ID == orig.ID || c.Subject != orig.Subject || c.Size != orig.Size || c.ModSeq <= dmb.HighestModSeq || c.ThreadID != orig.ThreadID {
			t.Fatalf("copy %d = %+v of %+v: want new ID, same content and thread, MODSEQ > %d", i, c, orig, dmb.HighestModSeq)
		}
	}
	if !slices.Equal(copies[1].Flags, []string{"$k", store.FlagSeen}) {
		t.Fatalf("copy lost flags: %q", copies[1].Flags)
	}
	if len(h.refs(u, src)) != 4 {
		t.Fatal("Copy changed the source")
	}
	h.counters(u, src)
	h.counters(u, dst)
	// Copy into the same mailbox.
	res, err = s.Copy(ctx, u.ID, src.ID, set(1), src.ID)
	noErr(t, "Copy(same mailbox)", err)
	if !slices.Equal(res.Pairs, []store.UIDPair{{Src: 1, Dst: 5}}) {
		t.Fatalf("Copy into same mailbox = %+v", res.Pairs)
	}
	res, err = s.Copy(ctx, u.ID, src.ID, set(99), dst.ID)
	noErr(t, "Copy(missing)", err)
	if len(res.Pairs) != 0 {
		t.Fatalf("Copy of missing UID = %+v", res.Pairs)
	}
	h.counters(u, src)
}

func testMove(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("rex")
	src := h.mailbox(u, "INBOX")
	dst := h.mailbox(u, "Done")
	ms := h.appendN(u, src, 4)
	h.appendN(u, dst, 2)
	before, _ := s.GetUser(ctx, u.ID)
	smb, dmb := h.getMailbox(u, src.ID), h.getMailbox(u, dst.ID)
	last, _ := s.LastChange(ctx, u.ID)
	res, err := s.Move(ctx, u.ID, src.ID, store.UIDSet{{Start: 2, Stop: 3}}, dst.ID)
	noErr(t, "Move", err)
	if !slices.Equal(res.Pairs, []store.UIDPair{{Src: 2, Dst: 3}, {Src: 3, Dst: 4}}) || res.DstUIDValidity != dst.UIDValidity {
		t.Fatalf("Move = %+v", res)
	}
	if res.ExpungeModSeq <= smb.HighestModSeq {
		t.Fatalf("ExpungeModSeq %d not above source HighestModSeq %d", res.ExpungeModSeq, smb.HighestModSeq)
	}
	if hm := h.getMailbox(u, src.ID).HighestModSeq; hm != res.ExpungeModSeq {
		t.Fatalf("source HighestModSeq %d, want ExpungeModSeq %d", hm, res.ExpungeModSeq)
	}
	if got := uidsOfRefs(h.refs(u, src)); !slices.Equal(got, []uint32{1, 4}) {
		t.Fatalf("source UIDs after move %v", got)
	}
	moved, err := s.Fetch(ctx, u.ID, dst.ID, store.UIDSet{{Start: 3}}, false)
	noErr(t, "Fetch moved", err)
	if len(moved) != 2 || moved[0].ID != ms[1].ID || moved[1].ID != ms[2].ID || moved[0].ModSeq <= dmb.HighestModSeq {
		t.Fatalf("moved messages %+v: want IDs kept, MODSEQ > %d", moved, dmb.HighestModSeq)
	}
	g, err := s.GetMessage(ctx, u.ID, ms[1].ID)
	noErr(t, "GetMessage(moved)", err)
	if g.MailboxID != dst.ID || g.UID != 3 {
		t.Fatalf("GetMessage(moved) = mailbox %s uid %d", g.MailboxID, g.UID)
	}
	after, _ := s.GetUser(ctx, u.ID)
	if after.StorageUsed != before.StorageUsed {
		t.Fatalf("Move changed StorageUsed %d -> %d", before.StorageUsed, after.StorageUsed)
	}
	h.counters(u, src)
	h.counters(u, dst)
	chs, err := s.Changes(ctx, u.ID, "", last, 0)
	noErr(t, "Changes", err)
	var kinds []string
	for _, c := range chs {
		kinds = append(kinds, fmt.Sprintf("%s/%s/%d/%d", c.Kind, map[bool]string{true: "src", false: "dst"}[c.MailboxID == src.ID], c.UID, c.ModSeq))
		if c.Kind == store.ChangeExpunge && (c.MailboxID != src.ID || c.ModSeq != res.ExpungeModSeq) {
			t.Fatalf("move expunge journaled as %+v, want source mailbox at MODSEQ %d", c, res.ExpungeModSeq)
		}
		if c.Kind == store.ChangeExists && c.MailboxID != dst.ID {
			t.Fatalf("move exists journaled in %s, want %s", c.MailboxID, dst.ID)
		}
	}
	var ex, ap int
	for _, c := range chs {
		switch c.Kind {
		case store.ChangeExpunge:
			ex++
		case store.ChangeExists:
			ap++
		}
	}
	if ex != 2 || ap != 2 {
		t.Fatalf("journal after Move: %v; want 2 expunge in source and 2 exists in target", kinds)
	}
}

func testExpunge(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("sam")
	mb := h.mailbox(u, "INBOX")
	h.appendN(u, mb, 6)
	_, err := s.StoreFlags(ctx, u.ID, mb.ID, set(2, 3, 5), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted}})
	noErr(t, "StoreFlags(\\Deleted)", err)
	hms := h.getMailbox(u, mb.ID).HighestModSeq
	res, err := s.Expunge(ctx, u.ID, mb.ID, store.UIDSet{{Start: 3}})
	noErr(t, "Expunge(UID 3:*)", err)
	if !slices.Equal(res.UIDs, []uint32{3, 5}) || res.ModSeq != hms+1 {
		t.Fatalf("UID EXPUNGE 3:* = %+v, want [3 5] at MODSEQ %d", res, hms+1)
	}
	res, err = s.Expunge(ctx, u.ID, mb.ID, nil)
	noErr(t, "Expunge(all)", err)
	if !slices.Equal(res.UIDs, []uint32{2}) || res.ModSeq != hms+2 {
		t.Fatalf("EXPUNGE = %+v, want [2] at MODSEQ %d", res, hms+2)
	}
	res, err = s.Expunge(ctx, u.ID, mb.ID, nil)
	noErr(t, "Expunge(nothing)", err)
	if len(res.UIDs) != 0 || res.ModSeq != 0 {
		t.Fatalf("EXPUNGE with nothing deleted = %+v", res)
	}
	if got := uidsOfRefs(h.refs(u, mb)); !slices.Equal(got, []uint32{1, 4, 6}) {
		t.Fatalf("remaining UIDs %v", got)
	}
	h.counters(u, mb)
	// UIDs are never reused.
	m := h.appendN(u, mb, 1)[0]
	if m.UID != 7 {
		t.Fatalf("append after expunge got UID %d, want 7", m.UID)
	}
	usr, _ := s.GetUser(ctx, u.ID)
	if c := h.counters(u, mb); usr.StorageUsed != c.Size {
		t.Fatalf("StorageUsed %d, mailbox size %d", usr.StorageUsed, c.Size)
	}
}

func testDelete(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("tom")
	mb := h.mailbox(u, "INBOX")
	h.appendN(u, mb, 4)
	res, err := s.Delete(ctx, u.ID, mb.ID, set(1, 3, 9))
	noErr(t, "Delete", err)
	if !slices.Equal(res.UIDs, []uint32{1, 3}) || res.ModSeq == 0 {
		t.Fatalf("Delete = %+v, want [1 3] with a MODSEQ", res)
	}
	if got := uidsOfRefs(h.refs(u, mb)); !slices.Equal(got, []uint32{2, 4}) {
		t.Fatalf("remaining UIDs %v", got)
	}
	h.counters(u, mb)
}

func testChangedSince(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("uma")
	mb := h.mailbox(u, "INBOX")
	h.appendN(u, mb, 5)
	mark := h.getMailbox(u, mb.ID).HighestModSeq
	_, err := s.StoreFlags(ctx, u.ID, mb.ID, set(4, 2), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	noErr(t, "StoreFlags", err)
	h.appendN(u, mb, 1)
	got, err := s.ChangedSince(ctx, u.ID, mb.ID, mark)
	noErr(t, "ChangedSince", err)
	if !slices.Equal(uidsOfRefs(got), []uint32{2, 4, 6}) {
		t.Fatalf("ChangedSince(%d) = %v, want [2 4 6] ascending", mark, uidsOfRefs(got))
	}
	for _, r := range got {
		if r.ModSeq <= mark {
			t.Fatalf("ChangedSince returned MODSEQ %d <= %d", r.ModSeq, mark)
		}
	}
	all0, err := s.ChangedSince(ctx, u.ID, mb.ID, 0)
	noErr(t, "ChangedSince(0)", err)
	if len(all0) != 6 {
		t.Fatalf("ChangedSince(0) = %d refs, want all 6", len(all0))
	}
}

func testQuota(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u, err := s.CreateUser(ctx, store.NewUser{Username: "vic", QuotaLimit: 1000})
	noErr(t, "CreateUser", err)
	mb := h.mailbox(u, "INBOX")
	body := string(bytes.Repeat([]byte("x"), 300))
	var sizes int64
	count := 0
	for i := 0; ; i++ {
		nm := h.msg(spec{Subject: fmt.Sprint(i), Body: body})
		usr, _ := s.GetUser(ctx, u.ID)
		m, err := s.Append(ctx, u.ID, mb.ID, nm)
		if usr.StorageUsed+nm.Size > 1000 {
			wantErr(t, "Append(over quota)", err, store.ErrOverQuota)
			break
		}
		noErr(t, "Append(under quota)", err)
		sizes += m.Size
		count++
	}
	usr, _ := s.GetUser(ctx, u.ID)
	if usr.StorageUsed != sizes {
		t.Fatalf("StorageUsed %d, want %d", usr.StorageUsed, sizes)
	}
	_, err = s.Copy(ctx, u.ID, mb.ID, all(), mb.ID)
	wantErr(t, "Copy(over quota)", err, store.ErrOverQuota)
	if got, _ := s.GetUser(ctx, u.ID); got.StorageUsed != sizes || len(h.refs(u, mb)) != count {
		t.Fatalf("refused Copy changed state: used %d refs %d", got.StorageUsed, len(h.refs(u, mb)))
	}
	// Move does not charge.
	other := h.mailbox(u, "Other")
	_, err = s.Move(ctx, u.ID, mb.ID, set(1), other.ID)
	noErr(t, "Move(at quota)", err)
	// Raising the limit allows appends; 0 = unlimited.
	zero := int64(0)
	_, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{QuotaLimit: &zero})
	noErr(t, "UpdateUser(quota 0)", err)
	h.append(u, mb, spec{Body: body})
	n, err := s.RecountQuota(ctx, u.ID)
	noErr(t, "RecountQuota", err)
	c1, _ := s.Counters(ctx, u.ID, mb.ID)
	c2, _ := s.Counters(ctx, u.ID, other.ID)
	if n != c1.Size+c2.Size {
		t.Fatalf("RecountQuota = %d, want %d", n, c1.Size+c2.Size)
	}
	_, err = s.RecountQuota(ctx, "000000000000000000000000")
	wantErr(t, "RecountQuota(unknown)", err, store.ErrNotFound)
}

// testCountersExact runs a random mix of operations and checks Counters
// and StorageUsed against the messages after each.
func testCountersExact(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("wes")
	a, b := h.mailbox(u, "INBOX"), h.mailbox(u, "B")
	rnd := rand.New(rand.NewSource(42))
	mbs := []*store.Mailbox{a, b}
	flags := []string{store.FlagSeen, store.FlagDeleted, "$x"}
	for i := 0; i < 150; i++ {
		mb := mbs[rnd.Intn(2)]
		other := mbs[rnd.Intn(2)]
		refs := h.refs(u, mb)
		pick := func() store.UIDSet {
			if len(refs) == 0 {
				return set(1)
			}
			r := refs[rnd.Intn(len(refs))]
			return store.UIDSet{{Start: r.UID, Stop: r.UID + uint32(rnd.Intn(3))}}
		}
		var err error
		switch op := rnd.Intn(7); op {
		case 0, 1:
			var fl []string
			if rnd.Intn(2) == 0 {
				fl = []string{store.FlagSeen}
			}
			_, err = s.Append(ctx, u.ID, mb.ID, h.msg(spec{Subject: fmt.Sprint(i), Body: fmt.Sprint(rnd.Int()), Flags: fl}))
		case 2:
			_, err = s.StoreFlags(ctx, u.ID, mb.ID, pick(), store.FlagUpdate{Mode: store.FlagMode(rnd.Intn(3)), Flags: []string{flags[rnd.Intn(3)]}})
		case 3:
			_, err = s.Copy(ctx, u.ID, mb.ID, pick(), other.ID)
		case 4:
			_, err = s.Move(ctx, u.ID, mb.ID, pick(), other.ID)
		case 5:
			_, err = s.Expunge(ctx, u.ID, mb.ID, nil)
		case 6:
			_, err = s.Delete(ctx, u.ID, mb.ID, pick())
		}
		noErr(t, fmt.Sprintf("op %d", i), err)
		ca, cb := h.counters(u, a), h.counters(u, b)
		usr, _ := s.GetUser(ctx, u.ID)
		if usr.StorageUsed != ca.Size+cb.Size {
			t.Fatalf("step %d: StorageUsed %d, mailboxes hold %d", i, usr.StorageUsed, ca.Size+cb.Size)
		}
	}
}

func testFindByMessageID(t *testing.T, h *harness) {
	u := h.user("mid")
	mb := h.mailbox(u, "INBOX")
	other := h.mailbox(u, "Junk")
	a := h.append(u, mb, spec{Subject: "one", MessageID: "dup@example.com"})
	h.append(u, mb, spec{Subject: "two", MessageID: "dup@example.com.au"}) // a longer id must not match
	b := h.append(u, mb, spec{Subject: "three", MessageID: "dup@example.com"})
	h.append(u, other, spec{Subject: "elsewhere", MessageID: "dup@example.com"})
	since := a.InternalDate.Add(-time.Hour)
	got, err := h.s.FindByMessageID(h.ctx, u.ID, mb.ID, "dup@example.com", since)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []uint32{a.UID, b.UID}) {
		t.Fatalf("FindByMessageID = %v, want exactly %v", got, []uint32{a.UID, b.UID})
	}
	got, _ = h.s.FindByMessageID(h.ctx, u.ID, mb.ID, "DUP@example.com", since)
	if len(got) != 0 {
		t.Fatalf("Message-ID matched case-insensitively: %v", got)
	}
	got, _ = h.s.FindByMessageID(h.ctx, u.ID, mb.ID, "dup@example.com", b.InternalDate.Add(time.Hour))
	if len(got) != 0 {
		t.Fatalf("messages older than since matched: %v", got)
	}
	v := h.user("mid2")
	if _, err := h.s.FindByMessageID(h.ctx, v.ID, mb.ID, "dup@example.com", since); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another user's mailbox: err = %v, want ErrNotFound", err)
	}
}
