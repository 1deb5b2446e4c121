package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/imap"
	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3"
	"github.com/eidermail/eider/server"
	"github.com/gorilla/websocket"
)

// eventWait bounds how long a test waits for one event.
const eventWait = 5 * time.Second

// wsDial opens the updates stream of token's user with gorilla's client.
func (e *env) wsDial(token, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	e.t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	u := "ws" + strings.TrimPrefix(e.url, "http") + "/users/me/updates" + query
	return websocket.DefaultDialer.Dial(u, hdr)
}

func (e *env) mustDial(token, query string) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.wsDial(token, query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial updates: %v (HTTP %d)", err, status)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// next reads the next event that is not a counter or quota event (those
// follow every batch of message changes; nextAny returns them too),
// failing the test after eventWait.
func next(t *testing.T, c *websocket.Conn) api.Event {
	t.Helper()
	for {
		ev := nextAny(t, c)
		if ev.Type != api.MailboxCounters && ev.Type != api.UserQuota {
			return ev
		}
	}
}

// nextAny reads one event, failing the test after eventWait.
func nextAny(t *testing.T, c *websocket.Conn) api.Event {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(eventWait))
	typ, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	var ev api.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("event %s: %v", b, err)
	}
	return ev
}

func TestUpdatesWebSocketEvents(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("ann", "secret-pass-1", "ann@example.com")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	ws := e.mustDial(tok, "")

	// API upload -> message.created
	start := time.Now()
	m := e.upload(c, inbox, []byte("Subject: hi\r\n\r\nbody\r\n"), "\\Flagged")
	ev := next(t, ws)
	t.Logf("API append to event: %v", time.Since(start))
	if ev.Type != api.MessageCreated || *ev.Mailbox != inbox || *ev.Message != m.Id || *ev.Uid != int64(m.Uid) || ev.Modseq == nil || *ev.Modseq <= 0 {
		t.Fatalf("created event %+v, message %+v", ev, m)
	}
	if ev.Flags == nil || !strings.Contains(strings.Join(*ev.Flags, " "), `\Flagged`) {
		t.Fatalf("created event flags %v", ev.Flags)
	}
	last := ev.Cursor

	// Core flag change -> message.flags
	ctx := context.Background()
	if _, err := e.svc.StoreFlags(ctx, userIDOf(t, e, tok), inbox, store.UIDSet{{Start: uint32(m.Uid), Stop: uint32(m.Uid)}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{`\Seen`}}); err != nil {
		t.Fatal(err)
	}
	ev = next(t, ws)
	if ev.Type != api.MessageFlags || *ev.Uid != int64(m.Uid) || !strings.Contains(strings.Join(*ev.Flags, " "), `\Seen`) || ev.Cursor <= last {
		t.Fatalf("flags event %+v", ev)
	}
	last = ev.Cursor

	// Mailbox create / rename / delete through the API.
	cr, err := c.CreateMailboxWithResponse(ctx, "me", api.MailboxCreate{Path: "Projects"})
	if err != nil || cr.JSON201 == nil {
		t.Fatalf("create mailbox: %v", err)
	}
	ev = next(t, ws)
	if ev.Type != api.MailboxCreated || *ev.Mailbox != cr.JSON201.Id || *ev.Name != "Projects" || ev.Cursor <= last {
		t.Fatalf("mailbox created event %+v", ev)
	}
	last = ev.Cursor
	if _, err := e.svc.RenameMailbox(ctx, userIDOf(t, e, tok), cr.JSON201.Id, "Work"); err != nil {
		t.Fatal(err)
	}
	ev = next(t, ws)
	if ev.Type != api.MailboxRenamed || *ev.Name != "Work" || *ev.OldName != "Projects" || ev.Cursor <= last {
		t.Fatalf("renamed event %+v", ev)
	}
	if err := e.svc.DeleteMailbox(ctx, userIDOf(t, e, tok), cr.JSON201.Id); err != nil {
		t.Fatal(err)
	}
	ev = next(t, ws)
	if ev.Type != api.MailboxDeleted || *ev.Mailbox != cr.JSON201.Id {
		t.Fatalf("deleted event %+v", ev)
	}

	// Delete the message -> message.deleted.
	if _, err := e.svc.Delete(ctx, userIDOf(t, e, tok), inbox, store.UIDSet{{Start: uint32(m.Uid), Stop: uint32(m.Uid)}}); err != nil {
		t.Fatal(err)
	}
	ev = next(t, ws)
	if ev.Type != api.MessageDeleted || *ev.Message != m.Id {
		t.Fatalf("message deleted event %+v", ev)
	}
}

// userIDOf resolves the id of token's user.
func userIDOf(t *testing.T, e *env, tok string) string {
	t.Helper()
	r, err := e.client(tok).GetUserWithResponse(context.Background(), "me")
	if err != nil || r.JSON200 == nil {
		t.Fatalf("get user: %v", err)
	}
	return r.JSON200.Id
}

func TestUpdatesFromLMTPDelivery(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("bob", "secret-pass-1", "bob@example.com")
	inbox := e.mailbox(e.client(tok), "INBOX")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := lmtp.NewLMTP(lmtp.Options{Deliverer: delivery.New(e.svc, delivery.Options{}), Hostname: "mx.test"})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ws := e.mustDial(tok, "")

	// A real LMTP client (Python's smtplib) delivers.
	py := fmt.Sprintf(`
import smtplib
c = smtplib.LMTP("127.0.0.1", %d)
c.sendmail("alice@example.org", ["bob@example.com"], b"Subject: via lmtp\r\n\r\nhello\r\n")
c.quit()
`, ln.Addr().(*net.TCPAddr).Port)
	if out, err := exec.Command("python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("python lmtp: %v\n%s", err, out)
	}
	ev := next(t, ws)
	if ev.Type != api.MessageCreated || *ev.Mailbox != inbox || *ev.Uid < 1 {
		t.Fatalf("LMTP event %+v", ev)
	}
}

func TestUpdatesResumeAfter100Changes(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("cat", "secret-pass-1", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	ws := e.mustDial(tok, "")
	m := e.upload(c, inbox, []byte("Subject: first\r\n\r\nx\r\n"))
	first := next(t, ws)
	if first.Type != api.MessageCreated || *first.Message != m.Id {
		t.Fatalf("first event %+v", first)
	}
	ws.Close()

	// 100 changes while disconnected: 50 appends and 50 flag changes.
	ctx := context.Background()
	var want []string
	for i := range 50 {
		msg, err := e.svc.Append(ctx, uid, inbox, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "created:"+strconv.Itoa(int(msg.UID)))
		if _, err := e.svc.StoreFlags(ctx, uid, inbox, store.UIDSet{{Start: msg.UID, Stop: msg.UID}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{`\Seen`}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "flags:"+strconv.Itoa(int(msg.UID)))
	}

	ws = e.mustDial(tok, "?since="+strconv.FormatInt(first.Cursor, 10))
	prev := first.Cursor
	for i, w := range want {
		ev := next(t, ws)
		if ev.Cursor <= prev {
			t.Fatalf("event %d: cursor %d after %d", i, ev.Cursor, prev)
		}
		prev = ev.Cursor
		got := strings.TrimPrefix(string(ev.Type), "message.") + ":" + strconv.FormatInt(*ev.Uid, 10)
		if got == w {
			continue
		}
		t.Fatalf("event %d: got %s, want %s", i, got, w)
	}
	// Then live events follow the replay.
	e.upload(c, inbox, []byte("Subject: live\r\n\r\nx\r\n"))
	if ev := next(t, ws); ev.Type != api.MessageCreated || ev.Cursor <= prev {
		t.Fatalf("live event after replay %+v", ev)
	}
}

func TestUpdatesStaleCursorResets(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("dan", "secret-pass-1", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	e.upload(c, inbox, []byte("Subject: a\r\n\r\nx\r\n"))
	e.upload(c, inbox, []byte("Subject: b\r\n\r\nx\r\n"))
	ctx := context.Background()
	old, err := e.svc.Store.Changes(ctx, uid, "", 0, 0)
	if err != nil || len(old) < 2 {
		t.Fatalf("journal: %v %d", err, len(old))
	}
	// Prune everything prunable: the oldest entry of INBOX goes.
	if _, err := e.svc.Store.PruneJournal(ctx, -time.Hour); err != nil {
		t.Fatal(err)
	}
	left, err := e.svc.Store.Changes(ctx, uid, "", old[0].Seq-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 && left[0].Seq == old[0].Seq {
		t.Fatalf("prune kept entry %d; test premise broken", old[0].Seq)
	}
	lastSeq, err := e.svc.Store.LastChange(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	ws := e.mustDial(tok, "?since="+strconv.FormatInt(old[0].Seq, 10))
	ev := next(t, ws)
	if ev.Type != api.Reset || ev.Cursor != lastSeq {
		t.Fatalf("stale cursor: event %+v, want reset at %d", ev, lastSeq)
	}
	// A cursor from the future (another store, a typo) resets too.
	ws2 := e.mustDial(tok, "?since=999999")
	if ev := next(t, ws2); ev.Type != api.Reset {
		t.Fatalf("future cursor: event %+v, want reset", ev)
	}
	// After the reset, live events follow.
	m := e.upload(c, inbox, []byte("Subject: c\r\n\r\nx\r\n"))
	if ev := next(t, ws); ev.Type != api.MessageCreated || *ev.Message != m.Id {
		t.Fatalf("event after reset %+v", ev)
	}
}

func TestUpdatesAuthAndLimits(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Updates = server.UpdatesOptions{MaxPerUser: 2, AllowedOrigins: []string{"https://mail.example.com"}}
	})
	_, tok := e.user("eve", "secret-pass-1", "")
	_, tok2 := e.user("fay", "secret-pass-1", "")
	statusOf := func(token, q string, hdr http.Header) int {
		t.Helper()
		c, resp, err := e.wsDial(token, q, hdr)
		if err == nil {
			c.Close()
			return resp.StatusCode
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode
	}
	if s := statusOf("", "", nil); s != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", s)
	}
	if s := statusOf("not-a-token", "", nil); s != http.StatusUnauthorized {
		t.Fatalf("bad token: %d, want 401", s)
	}
	if s := statusOf(tok, "?since=-1", nil); s != http.StatusBadRequest {
		t.Fatalf("negative since: %d, want 400", s)
	}
	if s := statusOf(tok, "", http.Header{"Origin": {"https://evil.example"}}); s != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", s)
	}
	if s := statusOf(tok, "", http.Header{"Origin": {"https://mail.example.com"}}); s != http.StatusSwitchingProtocols {
		t.Fatalf("configured origin: %d, want 101", s)
	}
	// Another user's stream is forbidden to a user token.
	u := "ws" + strings.TrimPrefix(e.url, "http") + "/users/" + userIDOf(t, e, tok2) + "/updates"
	if _, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + tok}}); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other user's stream: %v", err)
	}

	// Per-user limit: 2 open, the third gets 429; closing one frees a slot.
	// A user with no earlier streams: a stream closed by the client above
	// is released by the server asynchronously.
	_, tok = e.user("gus", "secret-pass-1", "")
	a := e.mustDial(tok, "")
	e.mustDial(tok, "")
	if s := statusOf(tok, "", nil); s != http.StatusTooManyRequests {
		t.Fatalf("third stream: %d, want 429", s)
	}
	if s := statusOf(tok2, "", nil); s != http.StatusSwitchingProtocols {
		t.Fatalf("other user's first stream: %d, want 101", s)
	}
	a.Close()
	deadline := time.Now().Add(eventWait)
	for {
		s := statusOf(tok, "", nil)
		if s == http.StatusSwitchingProtocols {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed after close: %d", s)
		}
		runtime.Gosched()
	}
}

// TestUpdatesEventStreamWithCurl reads the Server-Sent Events stream with
// curl, resuming with Last-Event-ID.
func TestUpdatesEventStreamWithCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	e := newEnv(t)
	_, tok := e.user("gus", "secret-pass-1", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	a := e.upload(c, inbox, []byte("Subject: a\r\n\r\nx\r\n"))
	b := e.upload(c, inbox, []byte("Subject: b\r\n\r\nx\r\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*eventWait)
	defer cancel()
	// Resume from 0: both uploads are replayed.
	cmd := exec.CommandContext(ctx, "curl", "-sN", "-H", "Authorization: Bearer "+tok, "-H", "Accept: text/event-stream",
		"-H", "Last-Event-ID: 0", e.url+"/users/me/updates")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	type sse struct {
		id, event string
		ev        api.Event
	}
	evs := make(chan sse, 16)
	go func() {
		defer close(evs)
		sc := bufio.NewScanner(out)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				if json.Unmarshal([]byte(line[6:]), &cur.ev) != nil {
					return
				}
			case line == "" && cur.id != "":
				evs <- cur
				cur = sse{}
			}
		}
	}()
	get := func() sse {
		t.Helper()
		select {
		case s, ok := <-evs:
			if !ok {
				t.Fatal("event stream ended")
			}
			return s
		case <-time.After(eventWait):
			t.Fatal("no event within deadline")
		}
		return sse{}
	}
	// The journal also holds the creation of the default mailboxes.
	for _, want := range []api.MessageSummary{a, b} {
		s := get()
		for s.event == string(api.MailboxCreated) || s.event == string(api.MailboxCounters) || s.event == string(api.UserQuota) {
			s = get()
		}
		if s.event != string(api.MessageCreated) || *s.ev.Message != want.Id || s.id != strconv.FormatInt(s.ev.Cursor, 10) {
			t.Fatalf("replayed SSE %+v, want message %s", s, want.Id)
		}
	}
	// And a live one.
	m := e.upload(c, inbox, []byte("Subject: c\r\n\r\nx\r\n"))
	s := get()
	for s.event == string(api.MailboxCounters) || s.event == string(api.UserQuota) {
		s = get()
	}
	if s.ev.Message == nil || *s.ev.Message != m.Id {
		t.Fatalf("live SSE %+v", s)
	}

	// Neither upgrade nor event-stream: 400.
	req, _ := http.NewRequest("GET", e.url+"/users/me/updates", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %d, want 400", resp.StatusCode)
	}
}

// TestUpdatesSlowClientDisconnected: a client that reads nothing (with a
// tiny receive buffer, so the server's writes block soon) is disconnected
// once its small queue stays full, instead of the server buffering events.
func TestUpdatesSlowClientDisconnected(t *testing.T) {
	logs := make(chan string, 1024)
	e := newEnv(t, func(o *server.Options) {
		o.Log = mailtest.LogTap(logs)
		o.Updates = server.UpdatesOptions{QueueSize: 2, WriteTimeout: 300 * time.Millisecond, SendBuffer: 4096}
	})
	uid, tok := e.user("hal", "secret-pass-1", "")
	inbox := e.mailbox(e.client(tok), "INBOX")
	d := websocket.Dialer{
		ReadBufferSize: 256,
		NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
			if err != nil {
				return err
			}
			return serr
		}}).DialContext,
	}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(e.url, "http")+"/users/me/updates", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	// Bursts of flag changes on 100 messages, each a journal entry, until
	// the server gives up on the client (bounded: the test fails if it
	// never does).
	ctx := context.Background()
	for i := range 100 {
		if _, err := e.svc.Append(ctx, uid, inbox, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	closed := false
	for round := 0; round < 400 && !closed; round++ {
		mode := store.FlagsAdd
		if round%2 == 1 {
			mode = store.FlagsRemove
		}
		if _, err := e.svc.StoreFlags(ctx, uid, inbox, store.UIDSet{{Start: 1, Stop: 0}}, store.FlagUpdate{Mode: mode, Flags: []string{`\Seen`}}); err != nil {
			t.Fatal(err)
		}
		for more := true; more && !closed; {
			select {
			case m := <-logs:
				closed = strings.Contains(m, "dropping websocket client")
			default:
				more = false
			}
		}
	}
	if !closed {
		t.Fatal("the server never disconnected a client that reads nothing")
	}
	// The client, reading now, sees the stream end: after the buffered
	// events, a close (1013 when the close frame got through) or a reset.
	_ = ws.SetReadDeadline(time.Now().Add(eventWait))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			// 1013 when the close frame got through; 1006 (no close
			// frame) when the server dropped the connection on a write
			// that timed out.
			if errors.As(err, &ce) && ce.Code != 1013 && ce.Code != websocket.CloseAbnormalClosure {
				t.Fatalf("close code %d, want 1013 or 1006", ce.Code)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open: %v", err)
			}
			break
		}
	}
}

// TestUpdatesKeepAlivePings: the server pings an idle WebSocket.
func TestUpdatesKeepAlivePings(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Updates = server.UpdatesOptions{PingInterval: 50 * time.Millisecond}
	})
	_, tok := e.user("ida", "secret-pass-1", "")
	ws := e.mustDial(tok, "")
	pings := make(chan struct{}, 8)
	ws.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case <-time.After(eventWait):
			t.Fatalf("ping %d not received", i+1)
		}
	}
}

// TestUpdatesFromIMAP: changes made by Python's imaplib over a real IMAP
// session arrive as events: flags, a created mailbox, a move (created in
// the target, deleted in the source, same message id).
func TestUpdatesFromIMAP(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("joe", "secret-pass-1", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	m := e.upload(c, inbox, []byte("Subject: imap\r\n\r\nx\r\n"))
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
c.login("joe", "secret-pass-1")
c.select("INBOX")
assert c.uid("STORE", "%d", "+FLAGS", "(\\Seen)")[0] == "OK"
assert c.create("Moved")[0] == "OK"
assert c.uid("MOVE", "%d", "Moved")[0] == "OK"
c.logout()
`, ln.Addr().(*net.TCPAddr).Port, m.Uid, m.Uid)
	if out, err := exec.Command("python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("python imap: %v\n%s", err, out)
	}
	ev := next(t, ws)
	if ev.Type != api.MessageFlags || *ev.Message != m.Id || !strings.Contains(strings.Join(*ev.Flags, " "), `\Seen`) {
		t.Fatalf("IMAP STORE event %+v", ev)
	}
	ev = next(t, ws)
	if ev.Type != api.MailboxCreated || *ev.Name != "Moved" {
		t.Fatalf("IMAP CREATE event %+v", ev)
	}
	moved := *ev.Mailbox
	got := map[api.EventType]api.Event{}
	for range 2 {
		ev = next(t, ws)
		got[ev.Type] = ev
	}
	if mv, ok := got[api.MessageMoved]; !ok || *mv.Mailbox != moved || *mv.Message != m.Id ||
		mv.SourceMailbox == nil || *mv.SourceMailbox != inbox || mv.SourceUid == nil || *mv.SourceUid != int64(m.Uid) {
		t.Fatalf("IMAP MOVE: moved event %+v", got)
	}
	if del, ok := got[api.MessageDeleted]; !ok || *del.Mailbox != inbox || *del.Message != m.Id {
		t.Fatalf("IMAP MOVE: deleted event %+v", got)
	}
}

// TestUpdatesTicket: a browser-style WebSocket (no Authorization header,
// an Origin) opens with a single-use ticket.
func TestUpdatesTicket(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("kim", "secret-pass-1", "")
	c := e.client(tok)
	ctx := context.Background()
	tr, err := c.CreateUpdatesTicketWithResponse(ctx, "me")
	if err != nil || tr.JSON201 == nil {
		t.Fatalf("ticket: %v %s", err, tr.Body)
	}
	if left := time.Until(tr.JSON201.Expires); left <= 0 || left > time.Minute {
		t.Fatalf("ticket expires in %v", left)
	}
	origin := http.Header{"Origin": {e.url}}
	ws, resp, err := e.wsDial("", "?ticket="+tr.JSON201.Ticket, origin)
	if err != nil {
		var body []byte
		if resp != nil {
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("dial with ticket: %v %s", err, body)
	}
	defer ws.Close()
	inbox := e.mailbox(c, "INBOX")
	m := e.upload(c, inbox, []byte("Subject: t\r\n\r\nx\r\n"))
	if ev := next(t, ws); ev.Type != api.MessageCreated || *ev.Message != m.Id {
		t.Fatalf("event over ticket stream %+v", ev)
	}
	// Single use.
	if _, resp, err := e.wsDial("", "?ticket="+tr.JSON201.Ticket, origin); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reused ticket: %v", err)
	}
	// A bearer token is not a ticket, a ticket is not a bearer token, and
	// a tampered ticket fails.
	if _, resp, err := e.wsDial("", "?ticket="+tok, origin); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("token as ticket: %v", err)
	}
	tr2, _ := c.CreateUpdatesTicketWithResponse(ctx, "me")
	if r, err := e.client(tr2.JSON201.Ticket).GetUserWithResponse(ctx, "me"); err != nil || r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("ticket as bearer token: %v %d", err, r.StatusCode())
	}
	bad := tr2.JSON201.Ticket[:len(tr2.JSON201.Ticket)-2] + "xx"
	if _, resp, err := e.wsDial("", "?ticket="+bad, origin); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("tampered ticket: %v", err)
	}
	// The ticket still works after those failures, once.
	ws2, _, err := e.wsDial("", "?ticket="+tr2.JSON201.Ticket, origin)
	if err != nil {
		t.Fatalf("second ticket: %v", err)
	}
	ws2.Close()
}

// TestUpdatesFromPOP3: a DELE by Python's poplib (committed at QUIT; the
// default action moves the message to Trash) arrives as a deletion from
// INBOX and a creation in Trash, same message id.
func TestUpdatesFromPOP3(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("lea", "secret-pass-1", "")
	c := e.client(tok)
	inbox := e.mailbox(c, "INBOX")
	m := e.upload(c, inbox, []byte("Subject: pop\r\n\r\nx\r\n"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3.New(pop3.Options{Service: e.svc, AllowPlaintext: true})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ws := e.mustDial(tok, "")

	py := fmt.Sprintf(`
import poplib
c = poplib.POP3("127.0.0.1", %d)
c.user("lea")
c.pass_("secret-pass-1")
c.dele(1)
c.quit()
`, ln.Addr().(*net.TCPAddr).Port)
	if out, err := exec.Command("python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("python pop3: %v\n%s", err, out)
	}
	got := map[api.EventType]api.Event{}
	for range 2 {
		ev := next(t, ws)
		got[ev.Type] = ev
	}
	if del, ok := got[api.MessageDeleted]; !ok || *del.Mailbox != inbox || *del.Message != m.Id {
		t.Fatalf("POP3 DELE: deleted event %+v", got)
	}
	if mv, ok := got[api.MessageMoved]; !ok || *mv.Mailbox == inbox || *mv.Message != m.Id || *mv.SourceMailbox != inbox {
		t.Fatalf("POP3 DELE: moved-to-Trash event %+v", got)
	}
}
