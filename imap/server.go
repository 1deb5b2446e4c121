// Package imap is Eider's IMAP server: the session layer on top of the wire
// protocol (package imap/wire) and the shared mail core (mail.Service).
//
// A Server accepts connections and runs one session per connection (see
// session.go for the handler contract that command files follow). Sessions
// keep a snapshot of the selected mailbox and learn about changes made
// elsewhere (other sessions, other instances, delivery, the API) from the
// store's journal whenever the change bus signals one.
//
// Invariants:
//   - A session's goroutine is the only one that writes to its connection,
//     except during IDLE, where a helper goroutine only reads "DONE".
//   - A panic in a session is recovered, logged and ends only that session.
//   - Shutdown ends idle sessions at once (with "* BYE") and lets a command
//     in progress finish, bounded by its context.
package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/eidermail/eider/internal/accept"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/throttle"
)

// Options configure a Server. Zero values take the defaults documented on
// each field.
type Options struct {
	Service *mail.Service
	// TLS enables STARTTLS and ServeTLS; nil: neither is offered.
	TLS *tls.Config
	// AllowPlaintext accepts LOGIN and AUTHENTICATE PLAIN without TLS from
	// anywhere; AllowPlaintextLoopback from loopback addresses only
	// (elsewhere LOGINDISABLED is advertised, RFC 3501 §6.2.3, RFC 2595 §3.2).
	AllowPlaintext         bool
	AllowPlaintextLoopback bool
	// MaxFailures failed logins on one connection close it (default 3);
	// each failure is answered after FailureDelay.
	MaxFailures  int
	FailureDelay time.Duration
	// Limits bound command lines and literals (zero fields: wire defaults).
	// Limits.MaxLiteral is advertised as APPENDLIMIT (RFC 7889); when zero
	// it is the core's message size limit.
	Limits wire.Limits
	// MaxConnections bounds concurrent sessions (0: unbounded);
	// MaxConnectionsPerIP bounds them per client address (0: unbounded).
	MaxConnections      int
	MaxConnectionsPerIP int
	// MaxConnectionsPerUser bounds the logged-in sessions of one user
	// (0: unbounded), counted by Conns; one more is refused at login.
	MaxConnectionsPerUser int
	// Conns counts logged-in sessions per user ID; nil: an in-process
	// counter (this server only). The Redis counter of mail/cluster makes
	// MaxConnectionsPerUser span every instance.
	Conns throttle.ConnCounter
	// LoginLimiter, when set, counts failed logins per client address
	// across connections (and, through Redis, across instances); a
	// blocked address gets NO [UNAVAILABLE] without its password being
	// checked. nil: only MaxFailures per connection applies.
	LoginLimiter throttle.LoginLimiter
	// MaxBadCommands consecutive BAD answers end the session (default 20).
	MaxBadCommands int
	// IdleTimeout ends an authenticated session that sends nothing
	// (RFC 3501 §5.4: at least 30 minutes; default 30 minutes).
	IdleTimeout time.Duration
	// PreAuthTimeout ends a session that has not logged in within this
	// time of its last command (default 1 minute).
	PreAuthTimeout time.Duration
	// Hostname goes into the greeting; empty: os.Hostname.
	Hostname string
	Log      *slog.Logger
}

// Default values of Options.
const (
	DefaultMaxFailures    = 3
	DefaultMaxBadCommands = 20
	DefaultIdleTimeout    = 30 * time.Minute
	DefaultPreAuthTimeout = time.Minute
)

// Server serves IMAP sessions. Its methods are safe for concurrent use.
type Server struct {
	opt Options

	mu       sync.Mutex
	closing  bool
	lns      map[net.Listener]bool
	sessions map[*Session]bool
	perIP    map[string]int
	// perUser holds the Conns release functions of logged-in sessions by
	// user ID; any one of a user's releases ends one of its counts.
	perUser map[string][]func()
	done    chan struct{} // closed when closing and no sessions remain
	stop    chan struct{} // closed by Shutdown/Close: wakes IDLE sessions
}

// NewServer returns a Server; o.Service is required.
func NewServer(o Options) *Server {
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = DefaultMaxBadCommands
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.PreAuthTimeout <= 0 {
		o.PreAuthTimeout = DefaultPreAuthTimeout
	}
	if o.Limits.MaxLiteral <= 0 && o.Service != nil && o.Service.Limits.MaxSize > 0 {
		o.Limits.MaxLiteral = o.Service.Limits.MaxSize
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Conns == nil {
		o.Conns = throttle.NewLocalConns()
	}
	// The effective limits (wire defaults filled in), so that APPENDLIMIT
	// advertises exactly what the Reader enforces.
	o.Limits = wire.NewReader(nil, o.Limits, nil).Limits()
	return &Server{opt: o, lns: map[net.Listener]bool{}, sessions: map[*Session]bool{},
		perIP: map[string]int{}, perUser: map[string][]func(){}, done: make(chan struct{}), stop: make(chan struct{})}
}

// ErrNoTLS is returned by ServeTLS when the server has no TLS configuration.
var ErrNoTLS = errors.New("imap: no TLS configuration")

// ServeTLS serves implicit-TLS sessions (the "imaps" port, RFC 8314 §3.3).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opt.TLS == nil {
		return ErrNoTLS
	}
	return s.Serve(tls.NewListener(ln, s.opt.TLS))
}

// Serve accepts sessions on ln until Shutdown or Close, then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	return accept.Loop(ln, s.isClosing, func(c net.Conn) {
		ss := newSession(s, c)
		if reason := s.add(ss); reason != "" {
			// RFC 3501 §7.1.5: BYE as the greeting refuses the connection.
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("* BYE [UNAVAILABLE] " + reason + "\r\n"))
			c.Close()
			s.opt.Log.Warn("imap connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
			return
		}
		go func() {
			defer s.remove(ss)
			ss.run()
		}()
	})
}

func hostOf(c net.Conn) string {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return c.RemoteAddr().String()
}

// add registers a session, or returns why it is refused.
func (s *Server) add(ss *Session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "server shutting down"
	case s.opt.MaxConnections > 0 && len(s.sessions) >= s.opt.MaxConnections:
		return "too many connections, try again later"
	case s.opt.MaxConnectionsPerIP > 0 && s.perIP[ss.host] >= s.opt.MaxConnectionsPerIP:
		return "too many connections from your address"
	}
	s.sessions[ss] = true
	s.perIP[ss.host]++
	return ""
}

func (s *Server) remove(ss *Session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	if s.perIP[ss.host]--; s.perIP[ss.host] <= 0 {
		delete(s.perIP, ss.host)
	}
	if s.closing && len(s.sessions) == 0 {
		s.closeDoneLocked()
	}
	s.mu.Unlock()
}

// addUser counts a logged-in session of userID with Conns; the error
// wraps throttle.ErrTooMany if the user has MaxConnectionsPerUser already.
// If the counter itself fails (Redis away) the session is let in uncounted
// and the failure logged: serving mail matters more than the limit.
func (s *Server) addUser(ctx context.Context, userID string) error {
	release, err := s.opt.Conns.Acquire(ctx, userID, s.opt.MaxConnectionsPerUser)
	if errors.Is(err, throttle.ErrTooMany) {
		return fmt.Errorf("imap: count session of user %s: %w", userID, err)
	}
	if err != nil {
		s.opt.Log.Warn("imap: connection counter failed; session not counted", "user", userID, "err", err)
		release = func() {}
	}
	s.mu.Lock()
	s.perUser[userID] = append(s.perUser[userID], release)
	s.mu.Unlock()
	return nil
}

// removeUser undoes one addUser of userID.
func (s *Server) removeUser(userID string) {
	s.mu.Lock()
	rs := s.perUser[userID]
	var release func()
	if n := len(rs); n > 0 {
		release = rs[n-1]
		if n == 1 {
			delete(s.perUser, userID)
		} else {
			s.perUser[userID] = rs[:n-1]
		}
	}
	s.mu.Unlock()
	if release != nil {
		release() // may talk to Redis: outside s.mu
	}
}

func (s *Server) closeDoneLocked() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// closeStopLocked sets closing and closes stop once.
func (s *Server) closeStopLocked() {
	if !s.closing {
		s.closing = true
		close(s.stop)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// setIdle marks a session as waiting for input (idle == true, with its
// read deadline set to now+timeout) or busy. It returns false when the
// server is shutting down. Under s.mu, so Shutdown either sees the session
// idle and wakes it (its deadline then wins), or the session sees closing.
func (s *Server) setIdle(ss *Session, idle bool, timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.idle = idle
	if idle && !s.closing {
		ss.conn.SetReadDeadline(time.Now().Add(timeout))
	}
	return !s.closing
}

// Shutdown stops accepting, wakes every session waiting for a command (it
// answers "* BYE" and ends), lets commands in progress finish, and waits
// for all sessions until ctx ends; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closeStopLocked()
	for ln := range s.lns {
		ln.Close()
	}
	for ss := range s.sessions {
		if ss.idle {
			ss.conn.SetReadDeadline(time.Now())
		}
	}
	if len(s.sessions) == 0 {
		s.closeDoneLocked()
	}
	s.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeStopLocked()
	for ln := range s.lns {
		ln.Close()
	}
	for ss := range s.sessions {
		ss.cancel()
		ss.conn.Close()
	}
	if len(s.sessions) == 0 {
		s.closeDoneLocked()
	}
	return nil
}

// Sessions is the number of open sessions (GET /metrics reads it).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
