package imap

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestExpungeAndUIDExpunge(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 1; i <= 8; i++ {
		var flags []string
		if i%2 == 0 {
			flags = []string{`\Deleted`}
		}
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("x %d", i)), flags...)
	}
	r := e.raw()
	r.login()
	r.expectOK("s SELECT INBOX")

	// EXAMINE first: nothing is removed.
	r.expectOK("x1 EXAMINE INBOX")
	out := r.cmd("x2 EXPUNGE")
	if !strings.HasPrefix(out[len(out)-1], "x2 NO [READ-ONLY]") || e.count(e.alice, "INBOX") != 8 {
		t.Errorf("EXPUNGE in EXAMINE: %q", out)
	}
	out = r.cmd("x3 UID EXPUNGE 1:*")
	if !strings.HasPrefix(out[len(out)-1], "x3 NO [READ-ONLY]") || e.count(e.alice, "INBOX") != 8 {
		t.Errorf("UID EXPUNGE in EXAMINE: %q", out)
	}
	r.expectOK("s2 SELECT INBOX")

	// UID EXPUNGE removes only the given UIDs that have \Deleted.
	out = r.expectOK("u1 UID EXPUNGE 1:4")
	uids := applyExpunges([]uint32{1, 2, 3, 4, 5, 6, 7, 8}, out)
	if !slices.Equal(uids, []uint32{1, 3, 5, 6, 7, 8}) {
		t.Errorf("after UID EXPUNGE 1:4: client view %v (%q)", uids, out)
	}
	if s := e.subjects("INBOX"); len(s) != 6 || s[2] != "" || s[4] != "" || s[6] == "" {
		t.Errorf("store after UID EXPUNGE: %v", s)
	}

	// A message that arrives with \Deleted after the client's last EXISTS
	// is not expunged by EXPUNGE: the client did not know it.
	e.appendMsg(e.alice, "INBOX", testMessage("late"), `\Deleted`)
	out = r.expectOK("x4 EXPUNGE")
	exists, expunges := 0, 0
	for _, l := range out {
		if strings.HasSuffix(l, " EXPUNGE") {
			expunges++
		}
		var n int
		if _, err := fmt.Sscanf(l, "* %d EXISTS", &n); err == nil {
			exists = n
		}
	}
	if exists != 7 || expunges != 2 {
		t.Errorf("EXPUNGE with a new message: %q", out)
	}
	out = r.expectOK("x4b FETCH 1:* UID")
	for seq, uid := range []uint32{1, 3, 5, 7, 9} {
		if !slices.Contains(out, fmt.Sprintf("* %d FETCH (UID %d)", seq+1, uid)) {
			t.Errorf("client view after EXPUNGE: %q", out)
		}
	}
	if s := e.subjects("INBOX"); len(s) != 5 || s[9] != "late" {
		t.Errorf("store after EXPUNGE: %v", s)
	}
	out = r.expectOK("x5 EXPUNGE")
	if !slices.Equal(out[:len(out)-1], []string{"* 5 EXPUNGE"}) {
		t.Errorf("second EXPUNGE: %q", out)
	}

	// go-imap's client: UID EXPUNGE returns the expunged sequence numbers.
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(imap.UIDSetNum(3, 7), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	seqs, err := c.UIDExpunge(imap.UIDSetNum(7)).Collect()
	if err != nil || !slices.Equal(seqs, []uint32{4}) {
		t.Errorf("go-imap UID EXPUNGE: %v %v", seqs, err)
	}
	if s := e.subjects("INBOX"); len(s) != 3 || s[3] != "x 3" {
		t.Errorf("store after go-imap UID EXPUNGE: %v", s)
	}
}
