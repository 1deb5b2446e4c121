package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/imap"
	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3"
	"github.com/gorilla/websocket"
)

// expectEvents reads the next len(want) events (counters and quota left
// out) and checks their types in order; it returns them.
func expectEvents(t *testing.T, ws *websocket.Conn, what string, want ...api.EventType) []api.Event {
	t.Helper()
	var got []api.Event
	for _, w := range want {
		ev := next(t, ws)
		got = append(got, ev)
		if ev.Type != w {
			t.Fatalf("%s: event %d is %s, want %s (%+v)", what, len(got), ev.Type, w, ev)
		}
	}
	return got
}

// TestUpdatesJunk: IMAP UID MOVE and UID COPY into Junk (Python's imaplib)
// and an API move into Junk emit message.junk; an API move out of Junk
// emits message.notjunk; a move emits message.moved with its source.
func TestUpdatesJunk(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("jun", "secret-pass-1", "")
	c := e.client(tok)
	inbox, junk := e.mailbox(c, "INBOX"), e.mailbox(c, "Junk")
	m1 := e.upload(c, inbox, []byte("Subject: buy now\r\n\r\nx\r\n"))
	m2 := e.upload(c, inbox, []byte("Subject: cheap\r\n\r\nx\r\n"))
	m3 := e.upload(c, inbox, []byte("Subject: fine\r\n\r\nx\r\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := imap.NewServer(imap.Options{Service: e.svc, AllowPlaintext: true})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ws := e.mustDial(tok, "")

	py := fmt.Sprintf(`
import imaplib
c = imaplib.IMAP4("127.0.0.1", %d)
c.login("jun", "secret-pass-1")
c.select("INBOX")
assert c.uid("MOVE", "%d", "Junk")[0] == "OK"
assert c.uid("COPY", "%d", "Junk")[0] == "OK"
c.logout()
`, ln.Addr().(*net.TCPAddr).Port, m1.Uid, m2.Uid)
	if out, err := exec.Command("python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("python imap: %v\n%s", err, out)
	}
	evs := expectEvents(t, ws, "IMAP MOVE into Junk", api.MessageMoved, api.MessageJunk, api.MessageDeleted)
	if mv := evs[0]; *mv.Message != m1.Id || *mv.Mailbox != junk || *mv.SourceMailbox != inbox || *mv.SourceUid != int64(m1.Uid) {
		t.Fatalf("moved event %+v", mv)
	}
	if j := evs[1]; *j.Message != m1.Id || *j.Mailbox != junk || *j.SourceMailbox != inbox || j.Cursor != evs[0].Cursor {
		t.Fatalf("junk event %+v (moved cursor %d)", j, evs[0].Cursor)
	}
	if d := evs[2]; *d.Message != m1.Id || *d.Mailbox != inbox {
		t.Fatalf("deleted event %+v", d)
	}
	evs = expectEvents(t, ws, "IMAP COPY into Junk", api.MessageCreated, api.MessageJunk)
	if cr := evs[0]; *cr.Mailbox != junk || *cr.SourceMailbox != inbox || *cr.SourceUid != int64(m2.Uid) || *cr.Message == m2.Id {
		t.Fatalf("copy created event %+v", cr)
	}
	if j := evs[1]; *j.Message != *evs[0].Message || *j.Mailbox != junk {
		t.Fatalf("copy junk event %+v", j)
	}

	// API: move m1 out of Junk (PATCH with mailbox), then m3 into it.
	ctx := context.Background()
	r, err := c.UpdateMessageWithResponse(ctx, "me", junk, m1.Id, api.MessageUpdate{Mailbox: &inbox})
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("API move out of Junk: %v %d %s", err, r.StatusCode(), r.Body)
	}
	evs = expectEvents(t, ws, "API move out of Junk", api.MessageMoved, api.MessageNotjunk, api.MessageDeleted)
	if n := evs[1]; *n.Message != m1.Id || *n.Mailbox != inbox || *n.SourceMailbox != junk {
		t.Fatalf("notjunk event %+v", n)
	}
	r, err = c.UpdateMessageWithResponse(ctx, "me", inbox, m3.Id, api.MessageUpdate{Mailbox: &junk})
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("API move into Junk: %v %d %s", err, r.StatusCode(), r.Body)
	}
	evs = expectEvents(t, ws, "API move into Junk", api.MessageMoved, api.MessageJunk, api.MessageDeleted)
	if j := evs[1]; *j.Message != m3.Id || *j.Mailbox != junk {
		t.Fatalf("API junk event %+v", j)
	}
	// A move between two ordinary mailboxes is neither.
	arch := e.mailbox(c, "Trash")
	r, err = c.UpdateMessageWithResponse(ctx, "me", inbox, m1.Id, api.MessageUpdate{Mailbox: &arch})
	if err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("API move: %v %d", err, r.StatusCode())
	}
	expectEvents(t, ws, "API move INBOX -> Trash", api.MessageMoved, api.MessageDeleted)
}

// TestUpdatesCountersAndQuota: a batch of message changes is followed by
// mailbox.counters of the mailbox and, when messages were added or
// removed, user.quota.
func TestUpdatesCountersAndQuota(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("cnt", "secret-pass-1", "")
	quota := int64(1 << 20)
	if r, err := e.admin.UpdateUserWithResponse(context.Background(), uid, api.UserUpdate{Quota: &quota}); err != nil || r.JSON200 == nil {
		t.Fatalf("set quota: %v", err)
	}
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	ws := e.mustDial(tok, "")
	raw := []byte("Subject: count me\r\n\r\nbody\r\n")
	m := e.upload(c, inbox, raw)

	ev := nextAny(t, ws)
	if ev.Type != api.MessageCreated {
		t.Fatalf("first event %+v", ev)
	}
	created := ev.Cursor
	ev = nextAny(t, ws)
	if ev.Type != api.MailboxCounters || *ev.Mailbox != inbox || *ev.Total != 1 || *ev.Unseen != 1 || *ev.Size != int64(len(raw)) || ev.Cursor != created {
		t.Fatalf("counters after append %+v", ev)
	}
	ev = nextAny(t, ws)
	if ev.Type != api.UserQuota || *ev.Used != int64(len(raw)) || *ev.Limit != quota {
		t.Fatalf("quota after append %+v", ev)
	}

	// A flag change: counters (unseen drops), no quota event.
	if _, err := e.svc.StoreFlags(context.Background(), uid, inbox, store.UIDSet{{Start: uint32(m.Uid), Stop: uint32(m.Uid)}},
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	if ev = nextAny(t, ws); ev.Type != api.MessageFlags {
		t.Fatalf("flags event %+v", ev)
	}
	if ev = nextAny(t, ws); ev.Type != api.MailboxCounters || *ev.Unseen != 0 || *ev.Total != 1 {
		t.Fatalf("counters after \\Seen %+v", ev)
	}
	// The next event is the deletion's, not a quota event of the flag change.
	if _, err := e.svc.Delete(context.Background(), uid, inbox, store.UIDSet{{Start: uint32(m.Uid), Stop: uint32(m.Uid)}}); err != nil {
		t.Fatal(err)
	}
	if ev = nextAny(t, ws); ev.Type != api.MessageDeleted {
		t.Fatalf("after the flag change's counters: %+v, want message.deleted", ev)
	}
	if ev = nextAny(t, ws); ev.Type != api.MailboxCounters || *ev.Total != 0 || *ev.Size != 0 {
		t.Fatalf("counters after delete %+v", ev)
	}
	if ev = nextAny(t, ws); ev.Type != api.UserQuota || *ev.Used != 0 {
		t.Fatalf("quota after delete %+v", ev)
	}
}

// TestUpdatesLatency: the issue's "an event arrives within 200 ms of a
// change" for a change made over IMAP, POP3, LMTP and the API, measured
// from the journal time of the change (the commit, on this host's clock)
// to the event's arrival at a real WebSocket client. The bound is the
// issue's (a generous margin over the few milliseconds it takes).
func TestUpdatesLatency(t *testing.T) {
	const bound = 200 * time.Millisecond
	e := newEnv(t)
	_, tok := e.user("lat", "secret-pass-1", "lat@example.com")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	listen := func() (net.Listener, int) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln, ln.Addr().(*net.TCPAddr).Port
	}
	iln, iport := listen()
	isrv := imap.NewServer(imap.Options{Service: e.svc, AllowPlaintext: true})
	go isrv.Serve(iln)
	t.Cleanup(func() { isrv.Close() })
	pln, pport := listen()
	psrv := pop3.New(pop3.Options{Service: e.svc, AllowPlaintext: true})
	go psrv.Serve(pln)
	t.Cleanup(func() { psrv.Close() })
	lln, lport := listen()
	lsrv := lmtp.NewLMTP(lmtp.Options{Deliverer: delivery.New(e.svc, delivery.Options{}), Hostname: "mx.test"})
	go lsrv.Serve(lln)
	t.Cleanup(func() { lsrv.Close() })
	m := e.upload(c, inbox, []byte("Subject: a\r\n\r\nx\r\n"))
	ws := e.mustDial(tok, "")

	check := func(front string, want api.EventType, change func()) {
		t.Helper()
		change()
		ev := next(t, ws)
		arrived := time.Now()
		if ev.Type != want || ev.Time == nil {
			t.Fatalf("%s: event %+v, want %s", front, ev, want)
		}
		lat := arrived.Sub(*ev.Time)
		t.Logf("%s: change to event %v", front, lat)
		if lat > bound {
			t.Errorf("%s: event arrived %v after the change, want within %v", front, lat, bound)
		}
	}
	py := func(script string, args ...any) func() {
		return func() {
			if out, err := exec.Command("python3", "-c", fmt.Sprintf(script, args...)).CombinedOutput(); err != nil {
				t.Fatalf("python: %v\n%s", err, out)
			}
		}
	}
	check("API", api.MessageCreated, func() { e.upload(c, inbox, []byte("Subject: b\r\n\r\nx\r\n")) })
	check("IMAP", api.MessageFlags, py(`
import imaplib
c = imaplib.IMAP4("127.0.0.1", %d)
c.login("lat", "secret-pass-1")
c.select("INBOX")
assert c.uid("STORE", "%d", "+FLAGS", "(\\Flagged)")[0] == "OK"
c.logout()
`, iport, m.Uid))
	check("LMTP", api.MessageCreated, py(`
import smtplib
c = smtplib.LMTP("127.0.0.1", %d)
c.sendmail("x@example.org", ["lat@example.com"], b"Subject: via lmtp\r\n\r\nhello\r\n")
c.quit()
`, lport))
	// POP3 DELE moves the message to Trash at QUIT: the first event is the
	// move (then the deletion from INBOX).
	check("POP3", api.MessageMoved, py(`
import poplib
c = poplib.POP3("127.0.0.1", %d)
c.user("lat")
c.pass_("secret-pass-1")
c.dele(1)
c.quit()
`, pport))
}
