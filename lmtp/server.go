// Package lmtp runs Eider's two delivery listeners on emersion/go-smtp: LMTP
// (RFC 2033) for an MTA in front of Eider, with one reply per recipient after
// the data, and an SMTP maildrop (RFC 5321) that accepts mail for local
// users only (it never relays). Both hand the message to package delivery,
// streaming it into the store.
//
// Both advertise SMTPUTF8 (RFC 6531) and enforce it: a non-ASCII address in
// MAIL or RCPT without the SMTPUTF8 parameter is refused with 553 5.6.7
// (RFC 6531 §3.5).
package lmtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/net/netutil"

	"github.com/eidermail/eider/mail/delivery"
)

// Options configure a listener.
type Options struct {
	Deliverer *delivery.Deliverer
	// Hostname is announced in the greeting; empty: os.Hostname.
	Hostname string
	// MaxMessageBytes is advertised as SIZE (RFC 1870) and enforced while
	// reading the data (552 5.3.4).
	MaxMessageBytes int64
	// MaxLineLength bounds every input line, message data included.
	MaxLineLength int
	// MaxRecipients per transaction (default 100, RFC 5321 §4.5.3.1.8).
	MaxRecipients int
	// MaxConnections bounds concurrent connections (0: unbounded).
	MaxConnections int
	// TLS, if set, enables STARTTLS (RFC 3207).
	TLS *tls.Config
	// ReadTimeout/WriteTimeout per command (default 5 and 1 minutes).
	ReadTimeout, WriteTimeout time.Duration
	Log                       *slog.Logger
}

// Server is one LMTP or SMTP listener.
//
// Shutdown stops accepting, waits for deliveries in progress (those past
// DATA) to finish, and then closes idle connections; a client cut off
// before its DATA ended got no reply and will retry.
type Server struct {
	srv  *smtp.Server
	opt  Options
	lmtp bool

	// ctx is the context of every delivery; cancelled only by Close, so
	// that a shutdown lets in-flight deliveries finish.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	inflight int
	closing  bool
	idle     chan struct{} // closed when closing and inflight == 0
	lns      []net.Listener
}

// NewLMTP returns an LMTP server (RFC 2033).
func NewLMTP(o Options) *Server { return newServer(o, true) }

// NewSMTP returns an SMTP maildrop server for local recipients.
func NewSMTP(o Options) *Server { return newServer(o, false) }

func newServer(o Options, lmtp bool) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	if o.MaxRecipients == 0 {
		o.MaxRecipients = 100
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Minute
	}
	s := &Server{opt: o, lmtp: lmtp, idle: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	proto := "smtp"
	if lmtp {
		proto = "lmtp"
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		tc, _ := c.Conn().(*trackedConn)
		return &session{s: s, tc: tc, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.LMTP = lmtp
	srv.Domain = o.Hostname
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.MaxLineLength = o.MaxLineLength
	srv.MaxRecipients = o.MaxRecipients
	srv.ReadTimeout = o.ReadTimeout
	srv.WriteTimeout = o.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.TLSConfig = o.TLS
	srv.ErrorLog = slogPrinter{o.Log.With("proto", proto)}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until Shutdown or Close. It returns nil
// after a shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.opt.MaxConnections > 0 {
		ln = netutil.LimitListener(ln, s.opt.MaxConnections)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	err := s.srv.Serve(trackedListener{ln, s})
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil
	}
	return err
}

// Shutdown stops accepting, waits until no delivery is in progress or ctx
// ends, then closes every connection. It returns ctx.Err() if deliveries
// were still running when ctx ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for _, ln := range s.lns {
		ln.Close()
	}
	if s.inflight == 0 {
		s.closeIdleLocked()
	}
	s.mu.Unlock()
	var err error
	select {
	case <-s.idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Close closes every connection at once and cancels deliveries in progress.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) closeIdleLocked() {
	select {
	case <-s.idle:
	default:
		close(s.idle)
	}
}

// trackedListener hands out trackedConns.
type trackedListener struct {
	net.Listener
	s *Server
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &trackedConn{Conn: c, s: l.s}, nil
}

// trackedConn ends a delivery's in-flight period only when the replies to
// its data have been written: go-smtp writes them and then reads the next
// command, so the first Read (or Close) after the delivery marks the end.
// A shutdown therefore never closes a connection between "stored" and
// "250 OK" (which would make the sender retry a delivered message).
type trackedConn struct {
	net.Conn
	s       *Server
	pending atomic.Bool
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if c.pending.CompareAndSwap(true, false) {
		c.s.end()
	}
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	if c.pending.CompareAndSwap(true, false) {
		c.s.end()
	}
	return c.Conn.Close()
}

// begin registers a delivery in progress; false when shutting down.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight++
	return true
}

func (s *Server) end() {
	s.mu.Lock()
	s.inflight--
	if s.closing && s.inflight == 0 {
		s.closeIdleLocked()
	}
	s.mu.Unlock()
}

var errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down, try again later"}

// slogPrinter adapts go-smtp's Logger to slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) { p.l.Error(fmt.Sprintf(format, v...)) }
func (p slogPrinter) Println(v ...any)               { p.l.Error(fmt.Sprint(v...)) }

// tooLargeReader turns go-smtp's size-limit error into delivery.ErrTooLarge
// so the delivery layer maps it to 552 5.3.4.
type tooLargeReader struct{ r io.Reader }

func (t tooLargeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && errors.Is(err, smtp.ErrDataTooLarge) {
		err = fmt.Errorf("%w (SIZE %v)", delivery.ErrTooLarge, err)
	}
	return n, err
}
