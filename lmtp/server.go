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
	"bytes"
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
	// MaxLineLength bounds every input line, message data included
	// (RFC 5321 §4.5.3.1.6 allows 1000 octets; real mail is sloppier).
	// Default 64 KiB. Over it, a command gets 500 5.4.0 and the connection
	// is closed; message data fails the transaction, then the same.
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
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 64 << 10
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
	// Without TLS the line limit is kept on the connection (lineLimit),
	// by a bytes.IndexByte scan of each read, instead of by go-smtp's
	// byte-at-a-time loop: that loop was a tenth of the server's CPU for
	// 200 KB messages (docs/benchmarks.md, session 5). With STARTTLS the
	// connection carries ciphertext, so go-smtp keeps the limit, above
	// the TLS layer. (One difference: go-smtp lifts its limit inside BDAT
	// chunks, lineLimit does not. Without BINARYMIME, which Eider does not
	// offer, a chunk carries an RFC 5322 message, made of lines, RFC 3030
	// §3.)
	if o.TLS == nil {
		srv.MaxLineLength = 0 // go-smtp: no limit of its own
	} else {
		srv.MaxLineLength = o.MaxLineLength
	}
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
	tc := &trackedConn{Conn: c, s: l.s}
	if l.s.opt.TLS == nil {
		tc.lines.max = l.s.opt.MaxLineLength
	}
	return tc, nil
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
	// Read is only called by the goroutine go-smtp is reading with at the
	// time, so the fields below need no lock.

	// lines bounds input lines when go-smtp does not (no TLS).
	lines lineLimit
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if c.pending.CompareAndSwap(true, false) {
		c.s.end()
	}
	if c.lines.over {
		// As go-smtp's own limit does: the connection reads nothing more.
		// go-smtp answers a command line with 500 5.4.0 and closes;
		// inside message data the transaction fails first.
		return 0, smtp.ErrTooLongLine
	}
	n, err := c.Conn.Read(p)
	if c.lines.max > 0 {
		// The lines before one over the limit are handed out; the error
		// comes where that line starts.
		if n = c.lines.scan(p[:n]); n == 0 && c.lines.over {
			return 0, smtp.ErrTooLongLine
		}
		if c.lines.over {
			err = nil // reported by the next Read
		}
	}
	return n, err
}

// lineLimit tracks the length of the current input line across reads.
type lineLimit struct {
	max  int  // longest line allowed, its CRLF not counted; 0: none
	cur  int  // octets since the last LF
	over bool // a line was too long: every later read fails
}

// scan accounts for b and returns how many of its octets come before the
// first line over max: len(b) if there is none, else the offset where that
// line starts in b (0 if it started in an earlier read), and over is set.
func (l *lineLimit) scan(b []byte) int {
	start := 0 // where the current line starts in b
	for {
		i := bytes.IndexByte(b[start:], '\n')
		if i < 0 {
			if l.cur += len(b) - start; l.cur > l.max+1 {
				l.over = true
				return start
			}
			return len(b)
		}
		if l.cur+i > l.max+1 { // +1: the CR before the LF
			l.over = true
			return start
		}
		l.cur, start = 0, start+i+1
	}
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

// limitErrors turns go-smtp's limit errors into the delivery layer's, so
// it answers 552 5.3.4 for a message over the size limit and 554 5.6.0 for
// one with a line over the line limit (not 451: the same data would fail
// again).
type limitErrors struct{ r io.Reader }

func (t limitErrors) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, smtp.ErrDataTooLarge):
		err = fmt.Errorf("%w (SIZE %v)", delivery.ErrTooLarge, err)
	case errors.Is(err, smtp.ErrTooLongLine):
		err = fmt.Errorf("%w: %v", delivery.ErrLineTooLong, err)
	}
	return n, err
}
