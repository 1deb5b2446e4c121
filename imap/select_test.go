package imap

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/eidermail/eider/mail/store"
)

func TestSelectExamineResponses(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("a"), store.FlagSeen)
	e.appendMsg(e.alice, "INBOX", testMessage("b"), "$Label1")
	e.appendMsg(e.alice, "INBOX", testMessage("c"))
	inbox := e.mailbox(e.alice, "INBOX")
	r := e.raw()
	r.login()
	out := r.expectOK("a1 SELECT INBOX")
	for _, w := range []string{
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)`,
		"* 3 EXISTS", "* 0 RECENT", "* OK [UNSEEN 2]",
		fmt.Sprintf("* OK [UIDVALIDITY %d]", inbox.UIDValidity), "* OK [UIDNEXT 4]",
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft \*)]`,
		"* OK [HIGHESTMODSEQ ", "a1 OK [READ-WRITE]",
	} {
		if !hasLine(out, w) {
			t.Errorf("SELECT lacks %q: %q", w, out)
		}
	}
	out = r.expectOK("a2 EXAMINE INBOX")
	if !hasLine(out, "* OK [CLOSED]") || !hasLine(out, "* OK [PERMANENTFLAGS ()]") || !strings.HasPrefix(out[len(out)-1], "a2 OK [READ-ONLY]") {
		t.Errorf("EXAMINE: %q", out)
	}
	if out := r.cmd("a3 SELECT Nope"); !strings.HasPrefix(out[len(out)-1], "a3 NO [NONEXISTENT]") {
		t.Errorf("SELECT of a missing mailbox: %q", out)
	}
	// A failed SELECT deselects (RFC 3501 §6.3.1).
	if out := r.cmd("a4 CLOSE"); !strings.HasPrefix(out[len(out)-1], "a4 BAD") {
		t.Errorf("CLOSE after failed SELECT: %q", out)
	}
	// SELECT (CONDSTORE) enables CONDSTORE: unsolicited FETCH carry MODSEQ.
	r.expectOK("a5 SELECT INBOX (CONDSTORE)")
	res, err := e.svc.StoreFlags(context.Background(), e.alice.ID, inbox.ID, store.UIDSet{{Start: 3, Stop: 3}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagFlagged}})
	if err != nil {
		t.Fatal(err)
	}
	out = r.expectOK("a6 NOOP")
	if !hasLine(out, fmt.Sprintf(`* 3 FETCH (UID 3 FLAGS (\Flagged) MODSEQ (%d))`, res.ModSeq)) {
		t.Errorf("NOOP after flag change: %q", out)
	}
	r.expectOK("a7 UNSELECT")
	if out := r.cmd("a8 UNSELECT"); !strings.HasPrefix(out[len(out)-1], "a8 BAD") {
		t.Errorf("UNSELECT unselected: %q", out)
	}
}

// CLOSE expunges \Deleted messages silently; after EXAMINE it changes
// nothing (RFC 3501 §6.4.2).
func TestCloseExpungesOnlyReadWrite(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("keep"))
	e.appendMsg(e.alice, "INBOX", testMessage("drop"), store.FlagDeleted)
	inbox := e.mailbox(e.alice, "INBOX")
	count := func() int64 {
		c, err := e.svc.Store.Counters(context.Background(), e.alice.ID, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Total
	}
	r := e.raw()
	r.login()
	r.expectOK("a1 EXAMINE INBOX")
	out := r.expectOK("a2 CLOSE")
	if hasLine(out, "EXPUNGE") || count() != 2 {
		t.Fatalf("CLOSE after EXAMINE: %q, %d messages", out, count())
	}
	r.expectOK("a3 SELECT INBOX")
	out = r.expectOK("a4 CLOSE")
	if hasLine(out, "EXPUNGE") || count() != 1 {
		t.Fatalf("CLOSE after SELECT: %q, %d messages", out, count())
	}
}

func TestIDEnableNamespaceUTF8(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	out := r.expectOK(`a1 ID ("name" "test" "version" "1")`)
	if !hasLine(out, `* ID ("name" "Eider"`) {
		t.Errorf("ID: %q", out)
	}
	e.waitLog("imap client id")
	r.login()
	out = r.expectOK("a2 ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN")
	if !hasLine(out, "* ENABLED CONDSTORE UTF8=ACCEPT") {
		t.Errorf("ENABLE: %q", out)
	}
	out = r.expectOK("a3 ENABLE CONDSTORE")
	if !hasLine(out, "* ENABLED") || hasLine(out, "* ENABLED CONDSTORE") {
		t.Errorf("ENABLE again: %q", out)
	}
	out = r.expectOK("a4 NAMESPACE")
	if !hasLine(out, `* NAMESPACE (("" "/")) NIL NIL`) {
		t.Errorf("NAMESPACE: %q", out)
	}
	// UTF8=ACCEPT: names go as UTF-8 both ways (RFC 6855 §3).
	r.expectOK(`a5 CREATE "Ünïcode/Été"`)
	out = r.expectOK(`a6 LIST "" "Ünïcode*"`)
	if !hasLine(out, `"/" "Ünïcode/Été"`) {
		t.Errorf("LIST with UTF8=ACCEPT: %q", out)
	}
	if _, err := e.svc.Store.FindMailbox(context.Background(), e.alice.ID, "Ünïcode/Été"); err != nil {
		t.Error(err)
	}
	// Another session without UTF8=ACCEPT sees modified UTF-7.
	r2 := e.raw()
	r2.login()
	out = r2.expectOK(`b1 LIST "" "*code*"`)
	if !hasLine(out, `"/" &ANw-n&AO8-code/&AMk-t&AOk-`) {
		t.Errorf("LIST in modified UTF-7: %q", out)
	}
}

// go-imap's client reads SELECT and STATUS.
func TestGoIMAPSelectStatus(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("x"))
	c := e.client(nil)
	sd, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sd.NumMessages != 1 || sd.UIDNext != 2 || sd.UIDValidity == 0 || sd.HighestModSeq == 0 {
		t.Errorf("select data: %+v", sd)
	}
	st, err := c.Status("Trash", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumMessages == nil || *st.NumMessages != 0 || st.UIDNext != 1 {
		t.Errorf("status: %+v", st)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(store.DefaultMailboxes) {
		t.Errorf("LIST: %d mailboxes", len(list))
	}
}
