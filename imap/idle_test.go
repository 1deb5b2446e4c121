package imap

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/store"
)

// idleEvent is one unsolicited response seen by an idling go-imap client.
type idleEvent struct {
	kind  string // "exists", "expunge", "fetch"
	n     uint32 // count or sequence number
	flags []imap.Flag
	at    time.Time
}

// idleClient logs in, selects mailbox and starts IDLE; events arrive on the
// returned channel.
func (e *testEnv) idleClient(mailbox string) (*imapclient.Client, *imapclient.IdleCommand, <-chan idleEvent) {
	e.t.Helper()
	ch := make(chan idleEvent, 100)
	c := e.client(&imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { ch <- idleEvent{kind: "expunge", n: seq, at: time.Now()} },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				ch <- idleEvent{kind: "exists", n: *d.NumMessages, at: time.Now()}
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			b, err := m.Collect()
			if err == nil {
				ch <- idleEvent{kind: "fetch", n: b.SeqNum, flags: b.Flags, at: time.Now()}
			}
		},
	}})
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		e.t.Fatalf("select: %v", err)
	}
	idle, err := c.Idle()
	if err != nil {
		e.t.Fatalf("idle: %v", err)
	}
	return c, idle, ch
}

// idlePushLimit is the figure: a change made elsewhere reaches an
// idling client within one second of its commit.
const idlePushLimit = time.Second

// waitEvent waits for an event of kind and fails the test unless it
// arrived within idlePushLimit of committed (the moment the change was
// acknowledged to whoever made it; an event before it counts as 0).
func waitEvent(t *testing.T, ch <-chan idleEvent, kind string, committed time.Time) idleEvent {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case ev := <-ch:
			if ev.kind == kind {
				lat := max(ev.at.Sub(committed), 0)
				t.Logf("%s %d pushed %v after the commit", ev.kind, ev.n, lat)
				if lat > idlePushLimit {
					t.Errorf("%s %d pushed %v after the commit, want ≤ %v", ev.kind, ev.n, lat, idlePushLimit)
				}
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s response while idling", kind)
		}
	}
}

func TestIdleSeesChangesFromElsewhere(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	inbox := e.mailbox(e.alice, "INBOX")
	e.appendMsg(e.alice, "INBOX", testMessage("first"))
	_, idle, ch := e.idleClient("INBOX")

	// A delivery-like append through the core.
	e.appendMsg(e.alice, "INBOX", testMessage("second"))
	if ev := waitEvent(t, ch, "exists", time.Now()); ev.n != 2 {
		t.Errorf("EXISTS %d, want 2", ev.n)
	}

	// A flag change through the core (as the API does).
	if _, err := e.svc.StoreFlags(ctx, e.alice.ID, inbox.ID, store.UIDSet{{Start: 1, Stop: 1}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted, "$Important"}}); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, ch, "fetch", time.Now())
	if ev.n != 1 || !containsFlag(ev.flags, imap.FlagDeleted) || !containsFlag(ev.flags, "$Important") {
		t.Errorf("FETCH %d %v", ev.n, ev.flags)
	}

	// Another IMAP session (Python imaplib) expunges with CLOSE.
	out := e.python(`
M = login()
ok(M.select("INBOX"))
ok(M.close())
committed()
M.logout()
`)
	if ev := waitEvent(t, ch, "expunge", committedAt(t, out)); ev.n != 1 {
		t.Errorf("EXPUNGE %d, want 1", ev.n)
	}
	// A delivery over LMTP by Python's smtplib.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := lmtp.NewLMTP(lmtp.Options{Deliverer: delivery.New(e.svc, delivery.Options{Log: e.opt.Log}), Hostname: "lmtp.test",
		MaxMessageBytes: 1 << 20, MaxLineLength: 1000, MaxConnections: 10, Log: e.opt.Log})
	go ls.Serve(ln)
	t.Cleanup(func() { ls.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	out = e.python(`
import smtplib
s = smtplib.LMTP(os.environ["LMTP_HOST"], int(os.environ["LMTP_PORT"]))
s.sendmail("bob@example.org", ["alice@example.com"], "From: bob@example.org\r\nSubject: via lmtp\r\n\r\nhi\r\n")
committed()
s.quit()
`, "LMTP_HOST="+host, "LMTP_PORT="+port)
	if ev := waitEvent(t, ch, "exists", committedAt(t, out)); ev.n != 2 {
		t.Errorf("EXISTS %d after delivery, want 2", ev.n)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE end: %v", err)
	}
}

// committedAt reads the time the Python script printed with committed()
// right after the server acknowledged its change.
func committedAt(t *testing.T, out string) time.Time {
	t.Helper()
	i := strings.LastIndex(out, "COMMITTED ")
	if i < 0 {
		t.Fatalf("python printed no commit time: %q", out)
	}
	var ns int64
	if _, err := fmt.Sscan(out[i+len("COMMITTED "):], &ns); err != nil {
		t.Fatalf("commit time in %q: %v", out, err)
	}
	return time.Unix(0, ns)
}

func containsFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

// Updates reach a non-idling session at its next command: NOOP lets
// everything through, FETCH-less commands too, and the new keyword is
// announced with FLAGS.
func TestUpdatesAtNoop(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	inbox := e.mailbox(e.alice, "INBOX")
	for i := range 3 {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprint("m", i)))
	}
	r := e.raw()
	r.login()
	r.expectOK("s1 ENABLE CONDSTORE")
	sel := r.expectOK("s2 SELECT INBOX")
	if !hasLine(sel, "* 3 EXISTS") {
		t.Fatalf("select: %q", sel)
	}
	e.appendMsg(e.alice, "INBOX", testMessage("m3"))
	res, err := e.svc.StoreFlags(ctx, e.alice.ID, inbox.ID, store.UIDSet{{Start: 2, Stop: 3}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted, "Urgent"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Expunge(ctx, e.alice.ID, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	out := r.expectOK("s3 NOOP")
	want := []string{"* 4 EXISTS", "* FLAGS (", "Urgent", fmt.Sprintf("* 2 FETCH (UID 2 FLAGS (Urgent \\Deleted) MODSEQ (%d))", res.ModSeq),
		fmt.Sprintf("* 3 FETCH (UID 3 FLAGS (Urgent \\Deleted) MODSEQ (%d))", res.ModSeq)}
	for _, w := range want {
		if !hasLine(out, w) {
			t.Errorf("NOOP lacks %q: %q", w, out)
		}
	}
	// UIDs 2 and 3 go, in journal order: both are sequence number 2 when
	// their EXPUNGE is sent.
	expunges := 0
	for _, l := range out {
		if l == "* 2 EXPUNGE" {
			expunges++
		} else if strings.HasSuffix(l, " EXPUNGE") {
			t.Errorf("unexpected %q", l)
		}
	}
	if expunges != 2 {
		t.Errorf("%d EXPUNGE of 2, want 2: %q", expunges, out)
	}
	// The snapshot now has UIDs 1 and 4.
	out = r.expectOK("s4 STATUS INBOX (MESSAGES UIDNEXT)")
	if !hasLine(out, "MESSAGES 2") || !hasLine(out, "UIDNEXT 5") {
		t.Errorf("status: %q", out)
	}
}

// The other session is an imaplib client using the message commands:
// APPEND, STORE, EXPUNGE and MOVE each reach the idling go-imap client.
func TestIdleSeesAnotherIMAPSession(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("first"))
	_, idle, ch := e.idleClient("INBOX")
	step := func(name, script string, kind string, want uint32) {
		t.Helper()
		out := e.python(`
M = login()
ok(M.select("INBOX"))
` + script + `
committed()
M.logout()
`)
		if ev := waitEvent(t, ch, kind, committedAt(t, out)); ev.n != want {
			t.Errorf("%s: %s %d, want %d", name, kind, ev.n, want)
		}
	}
	step("APPEND", `ok(M.append("INBOX", None, None, b"Subject: two\r\n\r\nbody\r\n"))`, "exists", 2)
	step("STORE", `ok(M.store("2", "+FLAGS", "(\\Flagged)"))`, "fetch", 2)
	step("EXPUNGE", `ok(M.store("1", "+FLAGS", "(\\Deleted)")); ok(M.expunge())`, "expunge", 1)
	step("MOVE", `ok(M._simple_command("MOVE", "1", "Trash"))`, "expunge", 1)
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE end: %v", err)
	}
}

// RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH, STORE or SEARCH;
// the held-back expunge goes out with the next command that allows it,
// and the UID forms allow it at once.
func TestExpungeHeldBackDuringFetchStoreSearch(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	inbox := e.mailbox(e.alice, "INBOX")
	for i := range 3 {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprint("m", i)))
	}
	r := e.raw()
	r.login()
	r.expectOK("a SELECT INBOX")
	expungeOther := func(uid uint32) {
		t.Helper()
		if _, err := e.svc.Delete(ctx, e.alice.ID, inbox.ID, store.UIDSet{{Start: uid, Stop: uid}}); err != nil {
			t.Fatal(err)
		}
	}
	expungeOther(2)
	// FETCH of the expunged message may be answered NO [EXPUNGEISSUED]
	// (RFC 9051 §7.1) or with its data; either way, no EXPUNGE.
	for _, c := range []string{"b FETCH 1:* (FLAGS)", "c SEARCH ALL", "d STORE 1 +FLAGS (\\Seen)"} {
		out := r.cmd(c)
		if untaggedExpunge(out) || hasLine(out, " BAD ") {
			t.Errorf("%s: %q", c, out)
		}
	}
	// Sequence numbers still count the expunged message.
	out := r.expectOK("e FETCH 3 (UID)")
	if !hasLine(out, "* 3 FETCH (UID 3)") {
		t.Errorf("FETCH 3 while the expunge is held: %q", out)
	}
	out = r.expectOK("f NOOP")
	if !hasLine(out, "* 2 EXPUNGE") {
		t.Errorf("NOOP after held expunge: %q", out)
	}
	expungeOther(3)
	out = r.expectOK("g UID FETCH 1:* (FLAGS)")
	if !hasLine(out, "* 2 EXPUNGE") {
		t.Errorf("UID FETCH may carry the EXPUNGE: %q", out)
	}
}

// untaggedExpunge reports whether lines hold an untagged "* n EXPUNGE".
func untaggedExpunge(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "* ") && strings.HasSuffix(l, " EXPUNGE") {
			return true
		}
	}
	return false
}
