package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
)

// UpdatesOptions bound the live change streams of GET /users/{user}/updates.
type UpdatesOptions struct {
	// MaxPerUser is the number of streams one user may hold open at once;
	// one more is refused with 429 (default 20).
	MaxPerUser int
	// QueueSize is the number of events waiting for a client. A client
	// whose queue stays full for WriteTimeout is disconnected (WebSocket
	// close code 1013, "try again later"; it resumes with since), so its
	// memory never grows beyond it (default 256).
	QueueSize int
	// PingInterval is the keep-alive period: a WebSocket ping (and a client
	// that has not answered with a pong within two periods is dropped) or
	// an SSE comment line (default 30s).
	PingInterval time.Duration
	// WriteTimeout bounds one write to the client and the time its queue
	// may stay full (default 10s).
	WriteTimeout time.Duration
	// SendBuffer is the kernel send buffer of a WebSocket stream's
	// connection (SO_SNDBUF), bounding what a stalled client pins in the
	// kernel besides its queue (default 64 KiB).
	SendBuffer int
	// AllowedOrigins are the browser origins ("https://mail.example.com")
	// allowed to open a WebSocket besides the server's own host; "*" allows
	// every origin. Requests without an Origin header (non-browser
	// clients) are always allowed: they authenticate with a bearer token.
	AllowedOrigins []string
}

func (o *UpdatesOptions) defaults() {
	if o.MaxPerUser <= 0 {
		o.MaxPerUser = 20
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.SendBuffer <= 0 {
		o.SendBuffer = 64 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// replayPage is how many journal entries are read at once.
const replayPage = 200

// wsWriteBuffers lends WebSocket write buffers for the duration of a
// write, so that an idle stream holds none.
var wsWriteBuffers = &sync.Pool{}

// closeTooSlow is the WebSocket close code for a client that fell behind
// (RFC 6455 §7.4.1 registry: 1013 Try Again Later).
const closeTooSlow = 1013

// errTooSlow ends a stream whose client let its queue fill.
var errTooSlow = errors.New("client too slow: event queue full")

// streamCounter counts open streams per user.
type streamCounter struct {
	mu  sync.Mutex
	max int
	n   map[string]int
}

// total is the number of open streams of all users.
func (s *streamCounter) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := 0
	for _, n := range s.n {
		t += n
	}
	return t
}

// acquire takes a slot of userID; false when the user is at the limit.
func (s *streamCounter) acquire(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[userID] >= s.max {
		return false
	}
	s.n[userID]++
	return true
}

func (s *streamCounter) release(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[userID]--; s.n[userID] <= 0 {
		delete(s.n, userID)
	}
}

// GetUpdates streams the user's journal as events, over a WebSocket
// (RFC 6455) when the request asks for an upgrade, else as Server-Sent
// Events (WHATWG HTML §9.2) when it accepts text/event-stream. It returns
// only when the stream ends; the response has then been written.
func (h *Handlers) GetUpdates(ctx context.Context, req api.GetUpdatesRequestObject) (api.GetUpdatesResponseObject, error) {
	gc, ok := ctx.(*gin.Context)
	if !ok {
		return nil, errors.New("updates: not called through gin")
	}
	r := gc.Request
	rctx := r.Context()
	userID, err := userOf(rctx, req.User)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.Store.GetUser(rctx, userID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound("no such user")
		}
		return nil, fmt.Errorf("updates: user: %w", err)
	}
	var since *int64
	switch {
	case req.Params.Since != nil:
		since = req.Params.Since
	case req.Params.LastEventID != nil:
		v, err := strconv.ParseInt(strings.TrimSpace(*req.Params.LastEventID), 10, 64)
		if err != nil || v < 0 {
			return nil, errInvalid("Last-Event-ID", "Last-Event-ID must be a cursor (a non-negative integer)")
		}
		since = &v
	}
	ws := websocket.IsWebSocketUpgrade(r)
	if !ws && !acceptsEventStream(r) {
		return nil, errInvalid("", "ask for a WebSocket upgrade (RFC 6455) or send Accept: text/event-stream")
	}
	if ws && !h.originAllowed(r) {
		return nil, errForbidden("origin " + r.Header.Get("Origin") + " is not allowed")
	}
	if !h.streams.acquire(userID) {
		return nil, &apiError{status: http.StatusTooManyRequests, code: api.ProblemCodeRateLimited,
			detail: fmt.Sprintf("at most %d open update streams per user", h.updates.MaxPerUser), retryAfter: 5}
	}
	defer h.streams.release(userID)

	// The user's follower subscribes to the bus before this stream reads
	// the journal position, so that no change committed after this point
	// goes unannounced.
	sctx, cancel := context.WithCancel(context.WithoutCancel(rctx))
	defer cancel()
	f, err := h.followers.acquire(sctx, h, userID)
	if err != nil {
		return nil, err
	}
	defer h.followers.release(f)
	cursor, reset, err := h.startCursor(sctx, userID, since)
	if err != nil {
		return nil, err
	}
	s := &stream{h: h, userID: userID, cursor: cursor, reset: reset, follower: f,
		queue: make(chan *outEvent, h.updates.QueueSize)}
	if ws {
		h.serveWebSocket(sctx, cancel, gc, s)
	} else {
		h.serveEventStream(sctx, cancel, gc, s)
	}
	return nil, nil
}

// startCursor decides where a stream starts: after since when the journal
// still holds the entry since names (or since is 0), else at the end of the
// journal with reset set; without since, at the end of the journal.
//
// Known gap: pruning keeps the newest entry of every mailbox, so a cursor
// whose own entry survived may still precede pruned entries; only a cursor
// whose entry is gone is detected as stale.
func (h *Handlers) startCursor(ctx context.Context, userID string, since *int64) (int64, bool, error) {
	if since != nil && *since == 0 {
		return 0, false, nil
	}
	if since != nil {
		got, err := h.svc.Store.Changes(ctx, userID, "", *since-1, 1)
		if err != nil {
			return 0, false, fmt.Errorf("updates: journal: %w", err)
		}
		if len(got) == 1 && got[0].Seq == *since {
			return *since, false, nil
		}
	}
	last, err := h.svc.Store.LastChange(ctx, userID)
	if err != nil {
		return 0, false, fmt.Errorf("updates: journal end: %w", err)
	}
	return last, since != nil, nil
}

// acceptsEventStream reports whether the Accept header names
// text/event-stream.
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "text/event-stream") {
				return true
			}
		}
	}
	return false
}

// originAllowed implements the browser check of RFC 6455 §10.2: no Origin
// (not a browser), the server's own host, or a configured origin.
func (h *Handlers) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if slices.Contains(h.updates.AllowedOrigins, "*") || slices.ContainsFunc(h.updates.AllowedOrigins, func(a string) bool { return strings.EqualFold(a, o) }) {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// stream is one subscriber's position in the journal. The producer
// (follow) fills queue, first from the journal itself, then through the
// user's shared follower; the transport drains it.
// Invariant: events enter queue in strictly increasing cursor order and
// cursor is the last journal entry handed to the stream. While the stream
// is a member of its follower, only the follower (under its lock) touches
// cursor and queue's send side; closing detached hands them back.
type stream struct {
	h        *Handlers
	userID   string
	cursor   int64
	reset    bool
	follower *follower
	queue    chan *outEvent // pointers: an idle stream's queue costs 8 bytes a slot

	detached  chan struct{} // closed when the follower lets go of the stream
	detachErr error         // why, nil when the stream was only too slow for the fan-out
}

// follow queues a reset event if due, every journal entry after the cursor,
// then joins the user's follower, which queues the entries announced by
// each beacon, until ctx ends or the client falls behind (errTooSlow).
// Hand-over is by cursor: the stream reads the journal until its cursor has
// reached the follower's, then joins, and the follower skips what the
// stream already has, so there is no gap and no duplicate.
//
// The journal is the buffer: at most QueueSize events plus one journal
// page are held per stream. The follower never waits for a stream: one
// whose queue is full is detached and catches up alone with push, and a
// queue that stays full for WriteTimeout (the client consumes nothing) ends
// the stream, so a stalled client neither makes memory grow nor delays the
// other streams, while a burst (a STORE on a whole mailbox) reaches a
// client that keeps reading.
func (s *stream) follow(ctx context.Context) error {
	if s.reset {
		if err := s.push(ctx, newOutEvent(&api.Event{Type: api.Reset, Cursor: s.cursor})); err != nil {
			return err
		}
	}
	for {
		if err := s.drain(ctx); err != nil {
			return err
		}
		joined, err := s.follower.join(s)
		if err != nil {
			return err
		}
		if !joined {
			continue // the follower is ahead: read up to it
		}
		select {
		case <-ctx.Done():
			s.follower.leave(s)
			return ctx.Err()
		case <-s.detached:
			if s.detachErr != nil {
				return s.detachErr
			}
		}
	}
}

// push queues ev, waiting at most WriteTimeout for room.
func (s *stream) push(ctx context.Context, ev *outEvent) error {
	select {
	case s.queue <- ev:
		return nil
	default:
	}
	t := time.NewTimer(s.h.updates.WriteTimeout)
	defer t.Stop()
	select {
	case s.queue <- ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errTooSlow
	}
}

// drain queues the journal entries after the cursor.
func (s *stream) drain(ctx context.Context) error {
	for {
		got, err := s.h.svc.Store.Changes(ctx, s.userID, "", s.cursor, replayPage)
		if err != nil {
			return fmt.Errorf("updates: journal: %w", err)
		}
		groups, err := s.h.eventsOf(ctx, s.userID, got)
		if err != nil {
			return err
		}
		for _, g := range groups {
			for _, ev := range g.events {
				if err := s.push(ctx, ev); err != nil {
					return err
				}
			}
			s.cursor = g.seq
		}
		if len(got) < replayPage {
			return nil
		}
	}
}

// serveWebSocket upgrades the connection and writes queued events as text
// messages, with pings every PingInterval. A reader goroutine answers the
// protocol (pongs, close) and ends the stream when the client goes away.
func (h *Handlers) serveWebSocket(ctx context.Context, cancel context.CancelFunc, gc *gin.Context, s *stream) {
	up := websocket.Upgrader{
		HandshakeTimeout: h.updates.WriteTimeout,
		ReadBufferSize:   512, // clients send only control frames
		WriteBufferPool:  wsWriteBuffers,
		CheckOrigin:      func(*http.Request) bool { return true }, // checked before, with a problem answer
	}
	conn, err := up.Upgrade(gc.Writer, gc.Request, nil)
	if err != nil {
		h.log.Info("updates: websocket upgrade failed", "user", s.userID, "err", err)
		return // Upgrade answered the client
	}
	defer conn.Close()
	if tc, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(h.updates.SendBuffer)
	}
	h.log.Debug("updates: websocket open", "user", s.userID, "cursor", s.cursor)

	pi := h.updates.PingInterval
	conn.SetReadLimit(4096) // clients send nothing but control frames
	_ = conn.SetReadDeadline(time.Now().Add(2 * pi))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(2 * pi)) })
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	ferr := make(chan error, 1)
	go func() { ferr <- s.follow(ctx) }()

	ping := time.NewTicker(pi)
	defer ping.Stop()
	closeWith := func(code int, text string) {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(h.updates.WriteTimeout))
	}
	for {
		select {
		case <-ctx.Done():
			closeWith(websocket.CloseGoingAway, "")
			return
		case err := <-ferr:
			if errors.Is(err, errTooSlow) {
				h.log.Info("updates: dropping websocket client", "user", s.userID, "err", err)
				closeWith(closeTooSlow, "too slow: reconnect with since")
			} else if err != nil && ctx.Err() == nil {
				h.log.Warn("updates: stream failed", "user", s.userID, "err", err)
				closeWith(websocket.CloseInternalServerErr, "server error")
			}
			return
		case ev := <-s.queue:
			b, err := ev.json()
			if err != nil {
				h.log.Error("updates: encode event", "err", err)
				return
			}
			_ = conn.SetWriteDeadline(time.Now().Add(h.updates.WriteTimeout))
			if err := conn.WriteMessage(websocket.TextMessage, b); err != nil {
				// A client that stopped reading makes the write time out.
				h.log.Info("updates: dropping websocket client", "user", s.userID, "err", err)
				return
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.updates.WriteTimeout)); err != nil {
				return
			}
		}
	}
}

// serveEventStream writes queued events as Server-Sent Events: "id" is the
// cursor (what EventSource sends back as Last-Event-ID), "event" the type,
// "data" the Event JSON; a comment line every PingInterval keeps proxies
// from closing an idle stream.
func (h *Handlers) serveEventStream(ctx context.Context, cancel context.CancelFunc, gc *gin.Context, s *stream) {
	w := gc.Writer
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	// The request context ends when the client disconnects.
	go func() {
		<-gc.Request.Context().Done()
		cancel()
	}()
	write := func(p []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(h.updates.WriteTimeout))
		if _, err := w.Write(p); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := write([]byte(": eider updates\n\n")); err != nil {
		return
	}
	ferr := make(chan error, 1)
	go func() { ferr <- s.follow(ctx) }()
	ping := time.NewTicker(h.updates.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-ferr:
			if errors.Is(err, errTooSlow) {
				h.log.Info("updates: closing slow event-stream client", "user", s.userID)
			} else if err != nil && ctx.Err() == nil {
				h.log.Warn("updates: stream failed", "user", s.userID, "err", err)
			}
			return
		case ev := <-s.queue:
			b, err := ev.json()
			if err != nil {
				h.log.Error("updates: encode event", "err", err)
				return
			}
			if err := write(fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", ev.ev.Cursor, ev.ev.Type, b)); err != nil {
				return
			}
		case <-ping.C:
			if err := write([]byte(": ping\n\n")); err != nil {
				return
			}
		}
	}
}

// ParseOrigins splits a comma-separated origin list (the http.updates_origins
// setting), dropping blanks and a trailing slash.
func ParseOrigins(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}
