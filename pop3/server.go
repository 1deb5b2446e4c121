// Package pop3 is Eider's POP3 server: RFC 1939 with the RFC 2449
// extension mechanism (CAPA, RESP-CODES, AUTH-RESP-CODE, PIPELINING, TOP,
// UIDL, USER, SASL), RFC 5034 AUTH PLAIN, STLS (RFC 2595) and an implicit-TLS
// listener. The wire format lives in package pop3/wire; this package is the
// session logic on top of mail.Service.
//
// A session works on the user's INBOX, of which it shows the newest
// MaxMessages messages, numbered 1..n oldest first, as they were at login.
// Invariants:
//   - Nothing changes in the store before the UPDATE state (RFC 1939 §6):
//     RETR's \Seen and DELE are recorded in the session and applied only
//     after QUIT. A dropped connection, a shutdown or RSET discards them.
//   - A UIDL is the message's store ID (24 hex characters): stable across
//     sessions and never given to another message.
//   - One session per maildrop at a time (Locker); a second gets
//     -ERR [IN-USE] (RFC 2449 §8.1.1).
package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/eidermail/eider/internal/accept"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/throttle"
)

// DeleAction is what a DELE does at QUIT.
type DeleAction string

const (
	// DeleTrash moves deleted messages to the user's \Trash mailbox.
	DeleTrash DeleAction = "trash"
	// DeleExpunge removes them.
	DeleExpunge DeleAction = "expunge"
)

// Options configure a Server.
type Options struct {
	Service *mail.Service
	// TLS enables STLS and ServeTLS; nil: neither is offered.
	TLS *tls.Config
	// Locker: nil means a new LocalLocker.
	Locker Locker
	// MaxMessages: sessions show the newest this many INBOX messages (250).
	MaxMessages int
	// DeleAction: DeleTrash (default) or DeleExpunge.
	DeleAction DeleAction
	// AllowPlaintext accepts USER/PASS and AUTH PLAIN without TLS from
	// anywhere; AllowPlaintextLoopback from loopback addresses only.
	AllowPlaintext         bool
	AllowPlaintextLoopback bool
	// MaxFailures failed logins close the connection (3); each failure is
	// answered after FailureDelay.
	MaxFailures  int
	FailureDelay time.Duration
	// LoginLimiter, when set, counts failed logins per client address
	// across connections (and, with mail/cluster's Redis limiter, across
	// instances); a blocked address gets -ERR [AUTH] without its password
	// being checked. nil: only MaxFailures per connection applies.
	LoginLimiter throttle.LoginLimiter
	// MaxLineLength bounds a command line (RFC 2449 §4: at least 255).
	MaxLineLength int
	// MaxConnections bounds concurrent sessions (0: unbounded).
	MaxConnections int
	// IdleTimeout closes a silent session (RFC 1939 §3: at least 10 minutes).
	IdleTimeout time.Duration
	// Hostname goes into the greeting; empty: os.Hostname.
	Hostname string
	Log      *slog.Logger
}

// Server serves POP3 sessions. Its methods are safe for concurrent use.
type Server struct {
	opt Options

	mu       sync.Mutex
	closing  bool
	lns      map[net.Listener]bool
	sessions map[*session]bool
	done     chan struct{} // closed when closing and no sessions remain
	slots    chan struct{}
}

// New returns a Server.
func New(o Options) *Server {
	if o.Locker == nil {
		o.Locker = NewLocalLocker()
	}
	if o.MaxMessages <= 0 {
		o.MaxMessages = 250
	}
	if o.DeleAction == "" {
		o.DeleAction = DeleTrash
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 3
	}
	if o.MaxLineLength < 255 {
		o.MaxLineLength = 4096
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{opt: o, lns: map[net.Listener]bool{}, sessions: map[*session]bool{}, done: make(chan struct{})}
	if o.MaxConnections > 0 {
		s.slots = make(chan struct{}, o.MaxConnections)
	}
	return s
}

// ErrNoTLS is returned by ServeTLS when the server has no TLS configuration.
var ErrNoTLS = errors.New("pop3: no TLS configuration")

// ServeTLS serves implicit-TLS sessions (the "pop3s" port, RFC 8314 §3.3).
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
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			default:
				c.Write([]byte("-ERR [SYS/TEMP] too many connections, try again later\r\n"))
				c.Close()
				return
			}
		}
		ss := newSession(s, c)
		if !s.add(ss) { // shutting down: the next Accept fails
			c.Close()
			s.release()
			return
		}
		go func() {
			defer s.release()
			defer s.remove(ss)
			ss.run()
		}()
	})
}

func (s *Server) release() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *Server) add(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[ss] = true
	return true
}

func (s *Server) remove(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss)
	if s.closing && len(s.sessions) == 0 {
		s.closeDoneLocked()
	}
	s.mu.Unlock()
}

func (s *Server) closeDoneLocked() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// waitIdle is called by a session before it waits for a command. It
// returns false when the server is shutting down. Under s.mu, so Shutdown
// either sees the session idle and wakes it, or the session sees closing.
func (s *Server) waitIdle(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	ss.idle = true
	ss.conn.SetReadDeadline(time.Now().Add(s.opt.IdleTimeout))
	return true
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) busy(ss *session) {
	s.mu.Lock()
	ss.idle = false
	s.mu.Unlock()
}

// Shutdown stops accepting, ends every session that is waiting for a
// command (their pending changes are discarded, as for a dropped
// connection), lets commands in progress, such as a QUIT applying its
// changes, finish, and waits for all sessions until ctx ends. Then it
// closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
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
	s.closing = true
	for ln := range s.lns {
		ln.Close()
	}
	for ss := range s.sessions {
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
