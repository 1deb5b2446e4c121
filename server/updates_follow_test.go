package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/server"
	"github.com/gorilla/websocket"
)

// rawEvent is one event as the client received it.
type rawEvent struct {
	cursor int64
	typ    api.EventType
	raw    string
}

// readUntil reads events from c until one has a cursor >= last, failing the
// test when that takes longer than eventWait in total. Counter and quota
// events are left out: where they fall depends on how changes were
// batched, which differs between streams.
func readUntil(t *testing.T, c *websocket.Conn, last int64) []rawEvent {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	var out []rawEvent
	for {
		_ = c.SetReadDeadline(deadline)
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read event after %d events (want cursor %d): %v", len(out), last, err)
		}
		var ev api.Event
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("event %s: %v", b, err)
		}
		if ev.Type == api.MailboxCounters || ev.Type == api.UserQuota {
			continue
		}
		out = append(out, rawEvent{ev.Cursor, ev.Type, string(b)})
		if ev.Cursor >= last {
			return out
		}
	}
}

// strictlyIncreasing fails the test when cursors repeat or go back.
func strictlyIncreasing(t *testing.T, name string, evs []rawEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].cursor <= evs[i-1].cursor {
			t.Fatalf("%s: cursor %d after %d (duplicate or out of order)", name, evs[i].cursor, evs[i-1].cursor)
		}
	}
}

// stalledDial opens a stream whose client never reads, with tiny socket
// buffers so that the server's queue for it fills quickly.
func stalledDial(t *testing.T, url, token string) *websocket.Conn {
	t.Helper()
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
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http")+"/users/me/updates", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// TestUpdatesSharedFollowerFanOut: two live streams of one user get the
// same events in the same strictly increasing order, and a third stream
// whose client reads nothing does not delay them: the server would wait a
// full minute (WriteTimeout) on its full queue before giving up on it, and
// the two readers must have everything within eventWait.
func TestUpdatesSharedFollowerFanOut(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Updates = server.UpdatesOptions{QueueSize: 4, WriteTimeout: time.Minute, SendBuffer: 4096}
	})
	uid, tok := e.user("fan", "secret-pass-1", "")
	inbox := e.mailbox(e.client(tok), "INBOX")
	a := e.mustDial(tok, "")
	b := e.mustDial(tok, "")
	stalledDial(t, e.url, tok)

	ctx := context.Background()
	for i := range 60 {
		if _, err := e.svc.Append(ctx, uid, inbox, strings.NewReader(fmt.Sprintf("Subject: fan %d\r\n\r\nx\r\n", i)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// One burst: a journal entry per message, far more than the queues hold.
	if _, err := e.svc.StoreFlags(ctx, uid, inbox, store.UIDSet{{Start: 1, Stop: 0}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{`\Seen`}}); err != nil {
		t.Fatal(err)
	}
	last, err := e.svc.Store.LastChange(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	evA := readUntil(t, a, last)
	evB := readUntil(t, b, last)
	strictlyIncreasing(t, "stream A", evA)
	if !slices.Equal(evA, evB) {
		t.Fatalf("streams differ: A has %d events, B has %d", len(evA), len(evB))
	}
	created, flagged := 0, 0
	for _, ev := range evA {
		switch ev.typ {
		case api.MessageCreated:
			created++
		case api.MessageFlags:
			flagged++
		}
	}
	if created != 60 || flagged != 60 {
		t.Fatalf("got %d message.created and %d message.flags events, want 60 each", created, flagged)
	}
}

// TestUpdatesReplayJoinsFollower: a stream replaying from since=0 while
// changes keep coming catches up from the journal and then joins the shared
// follower without a gap or a duplicate: it ends up with every change, and
// from the first event of a live stream on, with exactly that stream's
// events.
func TestUpdatesReplayJoinsFollower(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("replay", "secret-pass-1", "")
	inbox := e.mailbox(e.client(tok), "INBOX")
	live := e.mustDial(tok, "")
	ctx := context.Background()
	appendN := func(from, to int) error {
		for i := from; i < to; i++ {
			if _, err := e.svc.Append(ctx, uid, inbox, strings.NewReader(fmt.Sprintf("Subject: r %d\r\n\r\nx\r\n", i)), nil, time.Time{}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := appendN(0, 30); err != nil {
		t.Fatal(err)
	}
	// Changes go on while the second stream replays and hands over.
	done := make(chan error, 1)
	go func() { done <- appendN(30, 80) }()
	replay := e.mustDial(tok, "?since=0")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last, err := e.svc.Store.LastChange(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	evL := readUntil(t, live, last)
	evR := readUntil(t, replay, last)
	strictlyIncreasing(t, "replaying stream", evR)
	created := 0
	for _, ev := range evR {
		if ev.typ == api.MessageCreated {
			created++
		}
	}
	if created != 80 {
		t.Fatalf("replaying stream got %d message.created events, want 80", created)
	}
	first := evL[0].cursor
	i := slices.IndexFunc(evR, func(ev rawEvent) bool { return ev.cursor >= first })
	if i < 0 || !slices.Equal(evR[i:], evL) {
		t.Fatalf("from cursor %d on, the replaying stream's %d events differ from the live stream's %d", first, len(evR)-max(i, 0), len(evL))
	}
}
