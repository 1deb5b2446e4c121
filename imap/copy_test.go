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

// copyUIDOf parses "[COPYUID v src dst]" out of lines.
func copyUIDOf(t *testing.T, lines []string) (uint32, string, string) {
	t.Helper()
	for _, l := range lines {
		if i := strings.Index(l, "[COPYUID "); i >= 0 {
			code, _, _ := strings.Cut(l[i+len("[COPYUID "):], "]")
			f := strings.Fields(code)
			var v uint32
			if _, err := fmt.Sscan(f[0], &v); err != nil || len(f) != 3 {
				t.Fatalf("bad COPYUID in %q", l)
			}
			return v, f[1], f[2]
		}
	}
	t.Fatalf("no COPYUID in %q", lines)
	return 0, "", ""
}

// subjects returns the subjects of a mailbox of alice by UID.
func (e *testEnv) subjects(name string) map[uint32]string {
	e.t.Helper()
	msgs, err := e.svc.Store.Fetch(context.Background(), e.alice.ID, e.mailbox(e.alice, name).ID, store.UIDSet{{Start: 1}}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[uint32]string{}
	for _, m := range msgs {
		out[m.UID] = m.Subject
	}
	return out
}

func TestCopyMoveUIDPLUS(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 1; i <= 6; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("msg %d", i)))
	}
	e.appendMsg(e.alice, "Trash", testMessage("already there"))
	trash := e.mailbox(e.alice, "Trash")
	r := e.raw()
	r.login()
	r.expectOK("s SELECT INBOX")

	out := r.expectOK("c1 COPY 2:3,5 Trash")
	v, src, dst := copyUIDOf(t, out[len(out)-1:])
	if v != trash.UIDValidity || src != "2:3,5" || dst != "2:4" {
		t.Errorf("COPYUID %d %s %s (Trash UIDVALIDITY %d)", v, src, dst, trash.UIDValidity)
	}
	ts := e.subjects("Trash")
	if ts[2] != "msg 2" || ts[3] != "msg 3" || ts[4] != "msg 5" || len(ts) != 4 {
		t.Errorf("Trash after COPY: %v", ts)
	}
	// UID COPY skips UIDs that do not exist.
	out = r.expectOK("c2 UID COPY 6,40:50 Trash")
	if _, src, dst := copyUIDOf(t, out); src != "6" || dst != "5" {
		t.Errorf("UID COPY: %q", out)
	}
	out = r.expectOK("c3 UID COPY 100:200 Trash")
	if hasLine(out, "COPYUID") {
		t.Errorf("empty UID COPY has COPYUID: %q", out)
	}
	out = r.cmd("c4 COPY 1 Nowhere")
	if !strings.HasPrefix(out[len(out)-1], "c4 NO [TRYCREATE]") {
		t.Errorf("COPY to a missing mailbox: %q", out)
	}
	out = r.cmd("c5 COPY 7 Trash")
	if !strings.HasPrefix(out[len(out)-1], "c5 BAD") {
		t.Errorf("COPY of a sequence number beyond the mailbox: %q", out)
	}

	// MOVE: untagged OK [COPYUID] first, then EXPUNGE, then the tagged OK.
	out = r.expectOK("m1 MOVE 2,4 Drafts")
	ci := slices.IndexFunc(out, func(l string) bool { return strings.HasPrefix(l, "* OK [COPYUID ") })
	x1 := slices.IndexFunc(out, func(l string) bool { return strings.HasSuffix(l, " EXPUNGE") })
	if ci < 0 || x1 < 0 || ci > x1 || strings.Contains(out[len(out)-1], "COPYUID") {
		t.Errorf("MOVE: %q", out)
	}
	if left := applyExpunges([]uint32{1, 2, 3, 4, 5, 6}, out); !slices.Equal(left, []uint32{1, 3, 5, 6}) {
		t.Errorf("the client's view after MOVE's EXPUNGEs: %v (%q)", left, out)
	}
	if _, src, dst := copyUIDOf(t, out); src != "2,4" || dst != "1:2" {
		t.Errorf("MOVE COPYUID: %q", out)
	}
	in := e.subjects("INBOX")
	if len(in) != 4 || in[2] != "" || in[4] != "" {
		t.Errorf("INBOX after MOVE: %v", in)
	}
	// Remaining: uid 1,3,5,6 as seq 1..4.
	out = r.expectOK("m2 UID MOVE 5 Junk")
	if !slices.Contains(out, "* 3 EXPUNGE") {
		t.Errorf("UID MOVE: %q", out)
	}
	if js := e.subjects("Junk"); len(js) != 1 || js[1] != "msg 5" {
		t.Errorf("Junk after UID MOVE: %v", js)
	}
	out = r.expectOK("m3 FETCH 1:* UID")
	for seq, uid := range []uint32{1, 3, 6} {
		if !slices.Contains(out, fmt.Sprintf("* %d FETCH (UID %d)", seq+1, uid)) {
			t.Errorf("numbering after MOVE: %q", out)
		}
	}

	// EXAMINE: MOVE refused; COPY allowed (it does not change the source).
	r.expectOK("x1 EXAMINE INBOX")
	out = r.cmd("x2 MOVE 1 Trash")
	if !strings.HasPrefix(out[len(out)-1], "x2 NO [READ-ONLY]") || len(e.subjects("INBOX")) != 3 {
		t.Errorf("MOVE in EXAMINE: %q", out)
	}
	r.expectOK("x3 COPY 1 Trash")

	// Over quota: NO [OVERQUOTA] and nothing copied.
	u, err := e.svc.Store.GetUser(context.Background(), e.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	limit := u.StorageUsed + 10
	if _, err := e.svc.Store.UpdateUser(context.Background(), e.alice.ID, store.UserUpdate{QuotaLimit: &limit}); err != nil {
		t.Fatal(err)
	}
	before := e.count(e.alice, "Trash")
	out = r.cmd("q1 COPY 1:* Trash")
	if !strings.HasPrefix(out[len(out)-1], "q1 NO [OVERQUOTA]") || e.count(e.alice, "Trash") != before {
		t.Errorf("COPY over quota: %q", out)
	}
}

func TestCopyMoveGoIMAP(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 1; i <= 3; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("go %d", i)))
	}
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cd, err := c.Copy(imap.UIDSetNum(1, 3), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if cd.UIDValidity != e.mailbox(e.alice, "Trash").UIDValidity || cd.SourceUIDs.String() != "1,3" || cd.DestUIDs.String() != "1:2" {
		t.Errorf("go-imap COPY: %+v", cd)
	}
	md, err := c.Move(imap.SeqSetNum(2), "Junk").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if md.SourceUIDs.String() != "2" || md.DestUIDs.String() != "1" {
		t.Errorf("go-imap MOVE: %+v", md)
	}
	if n := e.count(e.alice, "INBOX"); n != 2 {
		t.Errorf("INBOX has %d messages after MOVE", n)
	}
	py := e.python(`
M = login()
ok(M.select("INBOX"))
typ, data = M.copy("1:2", "Drafts")
assert typ == "OK" and b"[COPYUID " in data[0], (typ, data)
typ, data = M._simple_command("MOVE", "1", '"Sent Mail"')
assert typ == "OK", (typ, data)
print("UNTAGGED", M.untagged_responses.get("OK"))
`)
	if !strings.Contains(py, "COPYUID") {
		t.Errorf("python MOVE: %s", py)
	}
	if n := e.count(e.alice, "Drafts"); n != 2 {
		t.Errorf("Drafts has %d messages", n)
	}
}

// applyExpunges plays the "* n EXPUNGE" responses of lines on a client's
// list of UIDs in sequence order, as a client must (RFC 3501 §7.4.1).
func applyExpunges(uids []uint32, lines []string) []uint32 {
	uids = slices.Clone(uids)
	for _, l := range lines {
		var n int
		if _, err := fmt.Sscanf(l, "* %d EXPUNGE", &n); err == nil && strings.HasSuffix(l, " EXPUNGE") && n >= 1 && n <= len(uids) {
			uids = slices.Delete(uids, n-1, n)
		}
	}
	return uids
}
