package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/eidermail/eider/mail/store"
)

// refsOf returns the refs of a mailbox of alice, by UID.
func (e *testEnv) refsOf(name string) map[uint32]store.MessageRef {
	e.t.Helper()
	refs, err := e.svc.Store.ListRefs(context.Background(), e.alice.ID, e.mailbox(e.alice, name).ID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint32]store.MessageRef{}
	for _, r := range refs {
		out[r.UID] = r
	}
	return out
}

func flagsOf(refs map[uint32]store.MessageRef, uid uint32) []string {
	f := refs[uid].Flags
	if f == nil {
		return []string{}
	}
	return f
}

func TestStoreFlagsRaw(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 0; i < 4; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("store %d", i)))
	}
	r := e.raw()
	r.login()
	r.expectOK("s SELECT INBOX")

	out := r.expectOK(`a1 STORE 1:2 +FLAGS (\Flagged $Urgent)`)
	// A new keyword is announced with FLAGS before the FETCH responses.
	fi := slices.IndexFunc(out, func(l string) bool { return strings.HasPrefix(l, "* FLAGS (") && strings.Contains(l, "$Urgent") })
	f1 := slices.Index(out, `* 1 FETCH (FLAGS ($Urgent \Flagged))`)
	f2 := slices.Index(out, `* 2 FETCH (FLAGS ($Urgent \Flagged))`)
	if fi < 0 || f1 < 0 || f2 < 0 || fi > f1 {
		t.Errorf("+FLAGS: %q", out)
	}
	refs := e.refsOf("INBOX")
	if !slices.Equal(flagsOf(refs, 1), []string{"$Urgent", `\Flagged`}) || len(flagsOf(refs, 3)) != 0 {
		t.Errorf("store after +FLAGS: %v", refs)
	}
	out = r.expectOK(`a2 STORE 1 -FLAGS ($Urgent)`)
	if !slices.Contains(out, `* 1 FETCH (FLAGS (\Flagged))`) {
		t.Errorf("-FLAGS: %q", out)
	}
	out = r.expectOK(`a3 STORE 2:3 FLAGS (\Seen \Answered)`)
	if !slices.Contains(out, `* 2 FETCH (FLAGS (\Answered \Seen))`) || !slices.Contains(out, `* 3 FETCH (FLAGS (\Answered \Seen))`) {
		t.Errorf("FLAGS: %q", out)
	}
	out = r.expectOK(`a4 STORE 4 +FLAGS.SILENT (\Deleted)`)
	if len(out) != 1 {
		t.Errorf(".SILENT answered %q", out)
	}
	out = r.expectOK(`a5 UID STORE 4 FLAGS.SILENT ()`)
	if len(out) != 1 {
		t.Errorf("UID STORE .SILENT answered %q", out)
	}
	out = r.expectOK(`a6 UID STORE 1,3 +FLAGS \Draft`)
	if !slices.Contains(out, `* 1 FETCH (FLAGS (\Draft \Flagged) UID 1)`) || !slices.Contains(out, `* 3 FETCH (FLAGS (\Answered \Draft \Seen) UID 3)`) {
		t.Errorf("UID STORE: %q", out)
	}
	// Unchanged messages still get their FETCH (RFC 3501 §6.4.6).
	out = r.expectOK(`a7 STORE 1 +FLAGS (\Draft)`)
	if !slices.Contains(out, `* 1 FETCH (FLAGS (\Draft \Flagged))`) {
		t.Errorf("no-op STORE: %q", out)
	}
	refs = e.refsOf("INBOX")
	want := map[uint32][]string{1: {`\Draft`, `\Flagged`}, 2: {`\Answered`, `\Seen`}, 3: {`\Answered`, `\Draft`, `\Seen`}, 4: {}}
	for uid, w := range want {
		if !slices.Equal(flagsOf(refs, uid), w) {
			t.Errorf("uid %d: flags %v, want %v", uid, flagsOf(refs, uid), w)
		}
	}
	// Nothing echoed later from the journal: the session reported it all.
	if out := r.expectOK("a8 NOOP"); len(out) != 1 {
		t.Errorf("NOOP after own STOREs: %q", out)
	}
	for _, bad := range []string{`b1 STORE 1 +FLAGS (\Recent)`, `b2 STORE 1 +FLAGS (\Bogus)`, `b3 STORE 9 +FLAGS (\Seen)`} {
		out := r.cmd(bad)
		tag, _, _ := strings.Cut(bad, " ")
		if !strings.HasPrefix(out[len(out)-1], tag+" BAD") {
			t.Errorf("%s: %q", bad, out)
		}
	}
	// EXAMINE: refused, nothing changes.
	r.expectOK("x1 EXAMINE INBOX")
	out = r.cmd(`x2 STORE 1:* +FLAGS (\Deleted)`)
	if !strings.HasPrefix(out[len(out)-1], "x2 NO [READ-ONLY]") || countFetch(out) != 0 {
		t.Errorf("STORE in EXAMINE: %q", out)
	}
	for uid, r := range e.refsOf("INBOX") {
		if slices.Contains(r.Flags, `\Deleted`) {
			t.Errorf("uid %d got \\Deleted in a read-only mailbox", uid)
		}
	}
}

// TestStoreUnchangedSince: UNCHANGEDSINCE stores only where the message's
// MODSEQ is not greater, reports the others in [MODIFIED] (sequence
// numbers for STORE, UIDs for UID STORE), and .SILENT still sends MODSEQ
// (RFC 7162 §3.1.3).
func TestStoreUnchangedSince(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 0; i < 5; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("cond %d", i)))
	}
	r := e.raw()
	r.login()
	out := r.expectOK("s SELECT INBOX (CONDSTORE)")
	var highest uint64
	for _, l := range out {
		if i := strings.Index(l, "[HIGHESTMODSEQ "); i >= 0 {
			fmt.Sscanf(l[i:], "[HIGHESTMODSEQ %d]", &highest)
		}
	}
	if highest == 0 {
		t.Fatalf("no HIGHESTMODSEQ: %q", out)
	}
	// Another session changes message 2 and 4.
	o := e.raw()
	o.login()
	o.expectOK("s SELECT INBOX")
	o.expectOK(`o1 STORE 2,4 +FLAGS.SILENT ($Other)`)

	out = r.cmd(fmt.Sprintf(`c1 STORE 1:5 (UNCHANGEDSINCE %d) +FLAGS (\Seen)`, highest))
	last := out[len(out)-1]
	if !strings.HasPrefix(last, "c1 OK [MODIFIED 2,4]") {
		t.Errorf("conditional STORE: %q", out)
	}
	for _, seq := range []int{1, 3, 5} {
		if !hasLine(out, fmt.Sprintf("* %d FETCH (FLAGS (\\Seen) MODSEQ (", seq)) {
			t.Errorf("no FETCH with MODSEQ for %d: %q", seq, out)
		}
	}
	refs := e.refsOf("INBOX")
	if slices.Contains(refs[2].Flags, `\Seen`) || slices.Contains(refs[4].Flags, `\Seen`) || !slices.Contains(refs[5].Flags, `\Seen`) {
		t.Errorf("flags after conditional STORE: %v", refs)
	}
	// 2 and 4 were last changed together, before 5: only 5 fails.
	out = r.cmd(fmt.Sprintf(`c2 UID STORE 2,4,5 (UNCHANGEDSINCE %d) +FLAGS.SILENT ($Mine)`, refs[2].ModSeq))
	if !strings.HasPrefix(out[len(out)-1], "c2 OK [MODIFIED 5]") {
		t.Errorf("UID conditional STORE: %q", out)
	}
	if !hasLine(out, "* 2 FETCH (UID 2 MODSEQ (") || !hasLine(out, "* 4 FETCH (UID 4 MODSEQ (") || hasLine(out, "UID 5") {
		t.Errorf(".SILENT with CONDSTORE: %q", out)
	}
	out = r.cmd(`c3 STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\Flagged)`)
	if !strings.HasPrefix(out[len(out)-1], "c3 OK [MODIFIED 1]") {
		t.Errorf("UNCHANGEDSINCE 0: %q", out)
	}
	if slices.Contains(e.refsOf("INBOX")[1].Flags, `\Flagged`) {
		t.Error("UNCHANGEDSINCE 0 stored")
	}

	// go-imap's client and Python's imaplib agree.
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	if err != nil || len(msgs) != 1 || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
		t.Errorf("go-imap STORE: %+v %v", msgs, err)
	}
	py := e.python(`
M = login()
ok(M.select("INBOX"))
typ, data = M.store("1:2", "+FLAGS", "(\\Deleted)")
assert typ == "OK", data
assert all(b"\\Deleted" in d for d in data), data
typ, data = M.expunge()
assert typ == "OK", data
print("EXPUNGED", b" ".join(data).decode())
`)
	if !strings.Contains(py, "EXPUNGED 1 1") && !strings.Contains(py, "EXPUNGED 2 1") {
		t.Errorf("python STORE/EXPUNGE: %q", py)
	}
	if n := e.count(e.alice, "INBOX"); n != 3 {
		t.Errorf("%d messages left, want 3", n)
	}
}

// TestStoreMixedChangedUnchanged: a STORE without .SILENT answers every
// message of the set in order (RFC 3501 §6.4.6), those whose flags it
// changed (taken from the store's result) and those it left as they were
// (read back), with MODSEQ under CONDSTORE.
func TestStoreMixedChangedUnchanged(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := range 4 {
		flags := []string{}
		if i%2 == 1 {
			flags = append(flags, store.FlagSeen)
		}
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("mixed %d", i)), flags...)
	}
	r := e.raw()
	r.login()
	r.expectOK("s SELECT INBOX (CONDSTORE)")
	before := e.refsOf("INBOX")
	out := r.expectOK(`a UID STORE 1:4 +FLAGS (\Seen)`)
	after := e.refsOf("INBOX")
	var fetches []string
	for _, l := range out {
		if strings.HasPrefix(l, "* ") && strings.Contains(l, " FETCH ") {
			fetches = append(fetches, l)
		}
	}
	if len(fetches) != 4 {
		t.Fatalf("STORE answered %d FETCH responses, want 4: %q", len(fetches), out)
	}
	for i, l := range fetches {
		uid := uint32(i + 1)
		want := fmt.Sprintf(`* %d FETCH (FLAGS (\Seen) UID %d MODSEQ (%d))`, uid, uid, after[uid].ModSeq)
		if l != want {
			t.Errorf("response %d: %q, want %q", i, l, want)
		}
		if changed := after[uid].ModSeq != before[uid].ModSeq; changed != (i%2 == 0) {
			t.Errorf("UID %d: MODSEQ %d -> %d", uid, before[uid].ModSeq, after[uid].ModSeq)
		}
	}
}
