package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"

	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3/wire"
)

// state is the RFC 1939 §3 session state.
type state int

const (
	stateAuth  state = iota // AUTHORIZATION
	stateTrans              // TRANSACTION
)

// message is one message of the session's maildrop listing.
type message struct {
	id   string // store ID, the UIDL
	uid  uint32
	size int64
	seen bool // \Seen at login
	// Pending changes, applied only in the UPDATE state.
	deleted   bool
	retrieved bool
}

// session is one POP3 connection. Only its own goroutine touches it,
// except idle and conn, which Server reads under Server.mu.
type session struct {
	srv  *Server
	conn net.Conn // the accepted connection: deadlines and Close
	idle bool     // waiting for a command (guarded by srv.mu)

	r      *wire.Reader
	w      *wire.Writer
	secure bool   // TLS (implicit or after STLS)
	local  bool   // peer on a loopback address
	host   string // peer IP: the LoginLimiter key
	log    *slog.Logger
	ctx    context.Context

	state    state
	userArg  string // from USER, awaiting PASS
	failures int
	user     *store.User
	inbox    *store.Mailbox
	unlock   func()
	msgs     []*message
	quit     bool // QUIT or a fatal error: leave the loop
}

func newSession(srv *Server, c net.Conn) *session {
	ss := &session{srv: srv, conn: c, ctx: context.Background()}
	_, ss.secure = c.(*tls.Conn)
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ss.local = ta.IP.IsLoopback()
		ss.host = ta.IP.String()
	} else {
		ss.host = c.RemoteAddr().String()
	}
	ss.r = wire.NewReader(c, srv.opt.MaxLineLength)
	ss.w = wire.NewWriter(c)
	ss.log = srv.opt.Log.With("proto", "pop3", "remote", c.RemoteAddr().String())
	return ss
}

// run serves the session until QUIT, a dropped connection or shutdown.
// Leaving without QUIT discards pending changes (RFC 1939 §6).
func (ss *session) run() {
	defer ss.conn.Close()
	defer ss.releaseMaildrop()
	ss.w.OK("POP3 server ready " + ss.srv.opt.Hostname)
	for !ss.quit {
		// Answer everything pipelined before flushing (RFC 2449 §6.6).
		if ss.r.Buffered() == 0 {
			if err := ss.w.Flush(); err != nil {
				return
			}
		}
		if !ss.srv.waitIdle(ss) {
			ss.w.Err(wire.CodeSysTemp, "server shutting down")
			ss.w.Flush()
			return
		}
		line, err := ss.r.ReadLine()
		ss.srv.busy(ss)
		if errors.Is(err, wire.ErrLineTooLong) {
			ss.w.Err(wire.CodeNone, "command line too long")
			continue
		}
		if err != nil {
			if ss.srv.isClosing() {
				ss.w.Err(wire.CodeSysTemp, "server shutting down")
				ss.w.Flush()
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				ss.log.Debug("pop3 read", "err", err)
			}
			if ss.state == stateTrans {
				ss.log.Info("pop3 session ended without QUIT; changes discarded", "user", ss.user.Username)
			}
			return
		}
		cmd, err := wire.ParseCommand(line)
		if err != nil {
			ss.w.Err(wire.CodeNone, err.Error())
			continue
		}
		ss.dispatch(cmd)
	}
	ss.w.Flush()
}

// handler serves one command; states lists where it is allowed.
type handler struct {
	fn     func(ss *session, cmd wire.Command)
	states []state
}

var commands map[string]handler

func init() {
	auth, trans, both := []state{stateAuth}, []state{stateTrans}, []state{stateAuth, stateTrans}
	commands = map[string]handler{
		"CAPA": {(*session).capa, both},
		"QUIT": {(*session).quitCmd, both},
		"USER": {(*session).userCmd, auth},
		"PASS": {(*session).passCmd, auth},
		"AUTH": {(*session).authCmd, auth},
		"STLS": {(*session).stls, auth},
		"STAT": {(*session).stat, trans},
		"LIST": {(*session).list, trans},
		"UIDL": {(*session).uidl, trans},
		"RETR": {(*session).retr, trans},
		"TOP":  {(*session).top, trans},
		"DELE": {(*session).dele, trans},
		"RSET": {(*session).rset, trans},
		"NOOP": {(*session).noop, trans},
	}
}

func (ss *session) dispatch(cmd wire.Command) {
	h, ok := commands[cmd.Name]
	if !ok {
		ss.w.Err(wire.CodeNone, "unknown command "+cmd.Name)
		return
	}
	for _, st := range h.states {
		if st == ss.state {
			h.fn(ss, cmd)
			return
		}
	}
	if ss.state == stateAuth {
		ss.w.Err(wire.CodeNone, cmd.Name+" is not allowed before login")
	} else {
		ss.w.Err(wire.CodeNone, cmd.Name+" is not allowed after login")
	}
}

// startTLS switches the session to TLS after "+OK" to STLS. Input read
// before the handshake is discarded (RFC 2595 §4, against injection).
func (ss *session) startTLS() error {
	tc := tls.Server(ss.conn, ss.srv.opt.TLS)
	if err := tc.HandshakeContext(ss.ctx); err != nil {
		return err
	}
	ss.r.Reset(tc)
	ss.w.Reset(tc)
	ss.secure = true
	ss.userArg = ""
	return nil
}
