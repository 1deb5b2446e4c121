package imap

// Handler contract
//
// Every IMAP command is served by a handler registered in a table keyed by
// the upper-case command name as wire.Command.Name gives it (without the
// "UID " prefix: UID FETCH is "FETCH" with cmd.UID set). Each command file
// registers its handlers from init():
//
//	func init() {
//		register("FETCH", handler{fn: (*Session).fetch, states: inSelected, noExpunge: true})
//	}
//
//	func (s *Session) fetch(cmd *wire.Command) error {
//		a := cmd.Args.(*wire.FetchArgs)
//		...
//	}
//
// handler fields:
//   - fn: func(s *Session, cmd *wire.Command) error. The parser has already
//     validated the syntax; cmd.Args holds the command's *wire.XxxArgs.
//   - states: a mask of notAuthenticated, authenticated and selected (or
//     the shorthands anyState, inAuth = authenticated|selected,
//     inSelected). A command sent in another state gets "BAD" without
//     reaching fn (RFC 3501 §3).
//   - noExpunge: the non-UID form of the command must not be followed by
//     EXPUNGE responses (RFC 3501 §7.4.1: FETCH, STORE, SEARCH). Pending
//     expunges from other sessions are then held back: the expunged UIDs
//     stay in the snapshot (sel.isExpunged(uid) reports them) until a
//     later command allows them. The UID forms release them (RFC 3501
//     §6.4.8 allows EXPUNGE during UID commands).
//
// Capabilities: a file advertises an extension it implements with
// advertise("UIDPLUS") (after login) from its init(). The session core
// advertises what it implements itself.
//
// Answers. fn's return value becomes the tagged response:
//   - nil: "<tag> OK <NAME> completed".
//   - okReply(code, text): "<tag> OK [code] text" (e.g. APPENDUID, READ-WRITE).
//   - no(code, format, args...): "<tag> NO [code] text" — a user fault or
//     an expected refusal (TRYCREATE, NONEXISTENT, OVERQUOTA, CANNOT ...).
//   - bad(code, format, args...): "<tag> BAD [code] text" — the client
//     broke the protocol (invalid sequence number, command not allowed).
//   - a *wire.SyntaxError (e.g. from an APPEND Literal's Read/Finish):
//     "BAD <msg>" ("NO [TOOBIG]" for APPEND with KindTooBig); if Fatal the
//     session sends "* BYE" and ends.
//   - closeSession(err): no tagged answer; the connection is closed (the
//     connection broke, e.g. an I/O error while reading a literal).
//   - errAnswered: the handler wrote its tagged answer itself (STARTTLS and
//     COMPRESS, whose answer must precede the change of transport); no
//     updates are sent.
//   - any other error is mapped by storeReply: store.ErrNotFound → NO
//     [NONEXISTENT], ErrExists → NO [ALREADYEXISTS], ErrOverQuota → NO
//     [OVERQUOTA], ErrInvalidName/ErrSpecialUse/ErrHasChildren/
//     ErrNoSuchParent/ErrInvalidInput → NO [CANNOT], a *mimetree.LimitError
//     → NO [LIMIT]; anything else is a server fault: logged with the
//     command and answered "NO [SERVERBUG]" (the error text is not sent).
//     Wrap errors with context (fmt.Errorf("fetch %d: %w", uid, err)).
//
// What a handler reaches (all fields are only touched by the session's
// goroutine, so no locking):
//   - s.ctx: the session context; pass it to every store/service call.
//   - s.svc: the *mail.Service (s.svc.Store for reads, s.svc.Append/
//     StoreFlags/Copy/Move/Expunge for changes: they announce on the bus).
//   - s.user: the logged-in *store.User (nil before login).
//   - s.log: the session's logger (proto, remote, user attributes).
//   - s.w: the *wire.Writer for untagged responses ("* ..."); write whole
//     responses with its methods (StartFetch ... End, Search, Exists ...).
//     Never call s.w.Flush: the session flushes (with COMPRESS, it must
//     also flush the deflate stream) whenever it is about to wait for
//     input — between commands, but also when a handler reads more of its
//     command (flushingReader) — so a pipelined batch goes out in one
//     write and no answer waits behind unread input. A handler that must
//     push data before it continues otherwise calls s.flush(). While the
//     session waits for a command its write buffer is back in writerPool.
//   - s.condstore, s.utf8: CONDSTORE (RFC 7162 §3.1) and UTF8=ACCEPT
//     (RFC 6855) are enabled. A handler that uses a CONDSTORE feature
//     (FETCH MODSEQ / CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE)
//     calls s.enableCondstore() first (RFC 7162 §3.1: this enables it).
//   - s.sel: the selected mailbox (*selectedMailbox, nil unless selected):
//     sel.id, sel.name (store name), sel.uidValidity, sel.readOnly
//     (EXAMINE: no STORE/EXPUNGE/CLOSE-expunge may change anything),
//     sel.highestModSeq, and the snapshot of UIDs in sequence order:
//     sel.count() (messages the client knows), sel.uid(seq),
//     sel.seq(uid) (0 if absent), sel.uids() (ascending, do not modify).
//   - Resolving sets against the snapshot: s.seqSetUIDs(set) for a
//     message sequence set ("*" = count(); a number above count() is an
//     error the handler returns as is) and s.uidSetUIDs(set) for a UID
//     set ("*" = the highest UID in the snapshot; UIDs that do not exist
//     are silently skipped, RFC 3501 §6.4.8). Both return ascending UIDs
//     of the snapshot and accept "$" (s.saved, the SEARCHRES result,
//     RFC 5182, which SEARCH RETURN (SAVE) sets through s.setSaved).
//     storeSet(uids) turns UIDs into a compact store.UIDSet.
//   - Mailbox names: s.mailboxName(wireName) decodes a client's name
//     (modified UTF-7 unless UTF8=ACCEPT, RFC 3501 §5.1.3 / RFC 6855 §3)
//     into the store's name; s.wireName(storeName) encodes one for output.
//     s.findMailbox(wireName) returns the *store.Mailbox or the NO
//     [TRYCREATE] reply (RFC 3501 §6.3.11, §6.4.7) a COPY/MOVE/APPEND
//     target needs.
//
// Updates. The session follows the user's journal (store.Changes) from the
// position it had at SELECT. After fn returns and before the tagged answer,
// the session reads the journal if a bus beacon arrived and writes what
// changed in the selected mailbox: "* n EXPUNGE" (unless held back, see
// noExpunge), "* n EXISTS", "* FLAGS" for a new keyword, and
// "* n FETCH (UID FLAGS [MODSEQ])" for flag changes. The session's own
// changes come back the same way: after its own EXPUNGE/MOVE/UID EXPUNGE
// the handler writes nothing about the removed messages — the EXPUNGE
// responses are produced from the journal right after fn returns, and the
// snapshot is updated then (not before: during fn, sequence numbers are
// those the client knows). A handler that itself reports new flags (STORE
// without .SILENT) calls sel.reported(uid, modseq) for each FETCH it
// wrote, so that the journal entry for the same change is not sent twice.
// A handler that appends into the selected mailbox (APPEND, COPY/MOVE to
// itself) writes nothing: EXISTS comes from the journal. NOOP, CHECK and
// IDLE exist only to let updates through.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// state is a session state (RFC 3501 §3), as a bit so a handler can list
// several.
type state uint8

const (
	notAuthenticated state = 1 << iota
	authenticated
	selected
	anyState   = notAuthenticated | authenticated | selected
	inAuth     = authenticated | selected
	inSelected = selected
)

// handler serves one command; see "Handler contract" above.
type handler struct {
	fn        func(s *Session, cmd *wire.Command) error
	states    state
	noExpunge bool
}

var (
	handlers = map[string]handler{}
	// extraCaps are capabilities advertised after login by command files.
	extraCaps []string
)

// register adds a command handler; it panics on a duplicate (a programming
// error found by any test).
func register(name string, h handler) {
	if _, dup := handlers[name]; dup {
		panic("imap: duplicate handler for " + name)
	}
	handlers[name] = h
}

// advertise adds capabilities shown after login (call from init()).
func advertise(caps ...string) { extraCaps = append(extraCaps, caps...) }

// Reply is a tagged status response returned by a handler as its error.
type Reply struct {
	Status wire.Status
	Code   wire.Code
	Text   string
}

func (r *Reply) Error() string {
	if r.Code != "" {
		return string(r.Status) + " [" + string(r.Code) + "] " + r.Text
	}
	return string(r.Status) + " " + r.Text
}

// okReply is a tagged OK with a response code.
func okReply(code wire.Code, text string) error {
	return &Reply{Status: wire.OK, Code: code, Text: text}
}

// no is a tagged NO (RFC 3501 §7.1.2).
func no(code wire.Code, format string, args ...any) error {
	return &Reply{Status: wire.NO, Code: code, Text: fmt.Sprintf(format, args...)}
}

// bad is a tagged BAD (RFC 3501 §7.1.3).
func bad(code wire.Code, format string, args ...any) error {
	return &Reply{Status: wire.BAD, Code: code, Text: fmt.Sprintf(format, args...)}
}

// closeError ends the session without a tagged answer.
type closeError struct{ err error }

func (e *closeError) Error() string { return "imap: close session: " + e.err.Error() }
func (e *closeError) Unwrap() error { return e.err }

// closeSession makes the session end without answering (broken connection).
func closeSession(err error) error { return &closeError{err} }

// Session is one IMAP connection. See the handler contract above.
type Session struct {
	srv    *Server
	conn   net.Conn // the accepted connection: deadlines and Close
	host   string   // client IP
	idle   bool     // waiting for input (guarded by srv.mu)
	ctx    context.Context
	cancel context.CancelFunc

	svc *mail.Service
	log *slog.Logger

	// Connection layers: conn ← [tls] ← [deflate] ← br/bw.
	rw         io.ReadWriter // current transport below the buffers
	br         *bufio.Reader
	bw         *bufio.Writer
	r          *wire.Reader
	w          *wire.Writer
	compressed *deflateConn // non-nil once COMPRESS is active
	secure     bool         // TLS (implicit or after STARTTLS)
	local      bool         // peer on a loopback address

	state     state
	user      *store.User
	failures  int
	bads      int  // consecutive BAD answers
	logout    bool // leave the loop after this command
	condstore bool
	utf8      bool
	clientID  []wire.IDParam

	sel   *selectedMailbox
	saved []uint32 // SEARCHRES "$" (RFC 5182): UIDs

	beacons     <-chan bus.Beacon // nil before login
	unsubscribe func()
	pos         int64 // journal position (user Seq) the snapshot reflects
	dirty       bool  // a beacon arrived that may be beyond pos

	// idling: IDLE's goroutine is the reader, so reads must not flush
	// (the session goroutine owns the writer then). Set before that
	// goroutine starts and cleared after it has finished.
	idling bool
	// awaiting: the session is reading its next command; once the output
	// is flushed, the write buffer goes back to writerPool until the
	// command has been read (idle sessions hold no write buffer).
	awaiting bool
}

// writerPool holds the write buffers of sessions waiting for a command.
var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

// acquireWriter gives the session a write buffer if it lent its own back.
func (s *Session) acquireWriter() {
	if s.bw != nil {
		return
	}
	s.bw = writerPool.Get().(*bufio.Writer)
	s.bw.Reset(s.rw)
	s.w.SetBuffer(s.bw)
}

// releaseWriter lends the (empty) write buffer back to writerPool.
func (s *Session) releaseWriter() {
	if s.bw == nil || s.bw.Buffered() > 0 {
		return
	}
	s.bw.Reset(nil)
	writerPool.Put(s.bw)
	s.bw = nil
	s.w.SetBuffer(nil)
}

// flushingReader is the transport below the read buffer: before it blocks
// on the connection it sends whatever output is waiting. So every answer
// goes out exactly when the session needs more input — after the last of
// a pipelined batch of commands, but also when a command is answered
// before all of its input has been read (a refused APPEND whose LITERAL+
// literal is still arriving, RFC 7888 §4): the session then never waits
// for input the client holds back until it has read an answer.
type flushingReader struct {
	s *Session
	r io.Reader
}

func (f *flushingReader) Read(p []byte) (int, error) {
	s := f.s
	if !s.idling {
		if (s.bw != nil && s.bw.Buffered() > 0) || (s.compressed != nil && s.compressed.dirty) {
			if err := s.flush(); err != nil {
				return 0, fmt.Errorf("flush before read: %w", err)
			}
		}
		if s.awaiting {
			s.releaseWriter()
		}
	}
	return f.r.Read(p)
}

// Per-session buffer sizes: they dominate the memory of an idle session.
const (
	readBufferSize  = 4 << 10
	writeBufferSize = 8 << 10
)

func newSession(srv *Server, c net.Conn) *Session {
	s := &Session{srv: srv, conn: c, host: hostOf(c), svc: srv.opt.Service, state: notAuthenticated}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	_, s.secure = c.(*tls.Conn)
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		s.local = ta.IP.IsLoopback()
	}
	s.rw = c
	// Small buffers: most sessions sit idle (longer lines and literals are
	// read in several chunks; large FETCH data flushes more often).
	s.br = bufio.NewReaderSize(&flushingReader{s, c}, readBufferSize)
	s.bw = bufio.NewWriterSize(c, writeBufferSize)
	s.r = wire.NewReader(s.br, srv.opt.Limits, s.continueLiteral)
	s.w = wire.NewWriter(s.bw)
	s.log = srv.opt.Log.With("proto", "imap", "remote", c.RemoteAddr().String())
	return s
}

// continueLiteral sends the continuation request of a synchronising
// literal (RFC 3501 §7.5).
func (s *Session) continueLiteral() error {
	s.acquireWriter()
	s.w.Continue("Ready for literal data")
	return s.flush()
}

// flush writes buffered output (and, with COMPRESS, flushes the deflate
// stream so the client can decode everything sent so far).
//
// Writes are bounded by the idle timeout too: a client that stops reading
// cannot hold the session forever.
func (s *Session) flush() error {
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.opt.IdleTimeout))
	if s.bw != nil {
		if err := s.w.Flush(); err != nil {
			return err
		}
	}
	if s.compressed != nil {
		if err := s.compressed.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// resetTransport makes the buffers read from and write to rw (after
// STARTTLS or COMPRESS). Unread input must have been checked to be empty.
func (s *Session) resetTransport(rw io.ReadWriter) {
	s.rw = rw
	s.br.Reset(&flushingReader{s, rw})
	s.acquireWriter()
	s.bw.Reset(rw)
}

// timeout is the read deadline for the current state.
func (s *Session) timeout() time.Duration {
	if s.state == notAuthenticated {
		return s.srv.opt.PreAuthTimeout
	}
	return s.srv.opt.IdleTimeout
}

// busyDeadline bounds reads while a command runs (a literal, a SASL
// response, the rest of a pipelined command) by the idle timeout, so a
// client that stalls mid-command does not hold the session forever.
func (s *Session) busyDeadline() {
	s.conn.SetReadDeadline(time.Now().Add(s.srv.opt.IdleTimeout))
}

// run serves the session until LOGOUT, a dropped connection or shutdown.
func (s *Session) run() {
	defer s.cancel()
	defer s.conn.Close()
	defer func() {
		if s.unsubscribe != nil {
			s.unsubscribe()
		}
		if s.user != nil {
			s.srv.removeUser(s.user.ID)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			s.acquireWriter()
			s.log.Error("imap session panic", "panic", p, "stack", string(debug.Stack()))
			s.w.StatusResponse("", wire.BYE, wire.CodeServerBug, "internal server error")
			s.flush()
		}
	}()
	s.conn.SetDeadline(time.Now().Add(s.srv.opt.PreAuthTimeout))
	if tc, ok := s.conn.(*tls.Conn); ok {
		if err := tc.HandshakeContext(s.ctx); err != nil {
			s.log.Debug("imap tls handshake", "err", err)
			return
		}
	}
	s.busyDeadline()
	// RFC 3501 §7.1.1: greeting, with capabilities (RFC 3501 §7.2.1 allows
	// the CAPABILITY response code in it).
	s.w.StatusResponse("", wire.OK, wire.CodeCapability(s.capabilities()...), s.srv.opt.Hostname+" Eider IMAP4rev1 ready")
	for !s.logout {
		// No flush here: the reader flushes before it waits for input
		// (flushingReader), so a pipelined batch is answered in one write.
		if !s.srv.setIdle(s, true, s.timeout()) {
			s.bye("server shutting down")
			return
		}
		s.awaiting = true
		cmd, err := s.r.ReadCommand()
		s.awaiting = false
		s.acquireWriter()
		closing := !s.srv.setIdle(s, false, 0)
		s.busyDeadline()
		if err != nil {
			var se *wire.SyntaxError
			if errors.As(err, &se) {
				if !s.syntaxError(se, false) {
					return
				}
				continue
			}
			var ne net.Error
			switch {
			case closing:
				s.bye("server shutting down")
			case errors.As(err, &ne) && ne.Timeout():
				// RFC 3501 §5.4: autologout.
				s.bye("autologout; idle for too long")
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed):
				s.log.Debug("imap read", "err", err)
			}
			return
		}
		if !s.dispatch(cmd) {
			return
		}
	}
	s.flush()
}

// bye writes "* BYE text" and flushes (RFC 3501 §7.1.5).
func (s *Session) bye(text string) {
	s.w.StatusResponse("", wire.BYE, "", text)
	s.flush()
}

// syntaxError answers a rejected command (see package wire's error
// contract); it reports whether the session goes on.
func (s *Session) syntaxError(se *wire.SyntaxError, isAppend bool) bool {
	code := wire.Code("")
	st := wire.BAD
	if se.Kind == wire.KindTooBig {
		code = wire.CodeTooBig
		if isAppend || se.Name == "APPEND" {
			st = wire.NO // RFC 7888 §4
		}
	}
	if se.Fatal {
		s.w.StatusResponse("", wire.BYE, code, se.Msg)
		s.flush()
		return false
	}
	s.w.StatusResponse(se.Tag, st, code, se.Msg)
	if st == wire.BAD {
		return s.countBad()
	}
	return true
}

// countBad counts a BAD answer and ends the session after too many in a row.
func (s *Session) countBad() bool {
	s.bads++
	if s.bads >= s.srv.opt.MaxBadCommands {
		s.log.Info("imap too many bad commands; closing", "count", s.bads)
		s.bye("too many invalid commands")
		return false
	}
	return true
}

// dispatch runs one command and writes its updates and tagged answer. It
// reports whether the session goes on.
func (s *Session) dispatch(cmd *wire.Command) bool {
	h, ok := handlers[cmd.Name]
	if !ok {
		s.w.StatusResponse(cmd.Tag, wire.BAD, "", cmd.Name+" is not implemented")
		return s.countBad()
	}
	if h.states&s.state == 0 {
		msg := cmd.Name + " is not allowed "
		switch s.state {
		case notAuthenticated:
			msg += "before login"
		case authenticated:
			msg += "without a selected mailbox"
		default:
			msg += "in this state"
		}
		s.w.StatusResponse(cmd.Tag, wire.BAD, "", msg)
		return s.countBad()
	}
	// Output written by the handler before its first flush (a large
	// FETCH) is bounded like every write.
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.opt.IdleTimeout))
	err := h.fn(s, cmd)
	if err == errAnswered {
		s.bads = 0
		return true
	}
	var ce *closeError
	if errors.As(err, &ce) {
		if !errors.Is(ce.err, io.EOF) && !errors.Is(ce.err, net.ErrClosed) {
			s.log.Info("imap session closed", "command", cmd.Name, "err", ce.err)
		}
		return false
	}
	var se *wire.SyntaxError
	if errors.As(err, &se) {
		if se.Tag == "" {
			se.Tag = cmd.Tag
		}
		return s.syntaxError(se, cmd.Name == "APPEND")
	}
	// Updates before the tagged answer (RFC 3501 §7).
	if s.sel != nil {
		if uerr := s.update(!(h.noExpunge && !cmd.UID)); uerr != nil {
			s.log.Error("imap journal read", "err", uerr)
		}
	} else {
		s.drainBeacons()
	}
	rep := s.reply(cmd, err)
	if rep.Status == wire.BAD {
		if !s.countBad() {
			return false
		}
	} else {
		s.bads = 0
	}
	text := rep.Text
	if text == "" {
		text = cmdName(cmd) + " completed"
	}
	s.w.StatusResponse(cmd.Tag, rep.Status, rep.Code, text)
	return true
}

func cmdName(cmd *wire.Command) string {
	if cmd.UID {
		return "UID " + cmd.Name
	}
	return cmd.Name
}

// reply turns a handler's result into the tagged response (see the
// contract's mapping of errors).
func (s *Session) reply(cmd *wire.Command, err error) *Reply {
	if err == nil {
		return &Reply{Status: wire.OK}
	}
	var r *Reply
	if errors.As(err, &r) {
		return r
	}
	return s.storeReply(cmd, err)
}

// storeReply maps core errors to NO answers; unknown errors are server
// faults, logged and not shown to the client.
func (s *Session) storeReply(cmd *wire.Command, err error) *Reply {
	var le *mimetree.LimitError
	switch {
	case errors.Is(err, context.Canceled) && s.ctx.Err() != nil:
		return &Reply{Status: wire.NO, Code: wire.CodeUnavailable, Text: "server shutting down"}
	case errors.Is(err, store.ErrNotFound):
		return &Reply{Status: wire.NO, Code: wire.CodeNonExistent, Text: "no such mailbox or message"}
	case errors.Is(err, store.ErrExists):
		return &Reply{Status: wire.NO, Code: wire.CodeAlreadyExists, Text: "already exists"}
	case errors.Is(err, store.ErrOverQuota):
		return &Reply{Status: wire.NO, Code: wire.CodeOverQuota, Text: "over quota"}
	case errors.Is(err, store.ErrInvalidName), errors.Is(err, store.ErrSpecialUse),
		errors.Is(err, store.ErrHasChildren), errors.Is(err, store.ErrNoSuchParent),
		errors.Is(err, store.ErrInvalidInput):
		return &Reply{Status: wire.NO, Code: wire.CodeCannot, Text: lastError(err)}
	case errors.As(err, &le):
		return &Reply{Status: wire.NO, Code: wire.CodeLimit, Text: lastError(err)}
	}
	s.log.Error("imap command failed", "command", cmdName(cmd), "err", err)
	return &Reply{Status: wire.NO, Code: wire.CodeServerBug, Text: "internal server error"}
}

// lastError is the innermost message of a wrapped error chain, for NO texts.
func lastError(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// plaintextOK reports whether passwords may be sent on this connection
// (Dovecot's rule: TLS, or loopback when allowed, or allowed everywhere).
func (s *Session) plaintextOK() bool {
	o := s.srv.opt
	return s.secure || o.AllowPlaintext || (o.AllowPlaintextLoopback && s.local)
}

// capabilities lists what the server supports in the current state
// (RFC 3501 §6.1.1, §7.2.1). Before login only what matters for logging in.
func (s *Session) capabilities() []string {
	caps := []string{"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"}
	if s.state == notAuthenticated {
		if s.srv.opt.TLS != nil && !s.secure {
			caps = append(caps, "STARTTLS")
		}
		if s.plaintextOK() {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			caps = append(caps, "LOGINDISABLED") // RFC 3501 §6.2.3, RFC 2595 §3.2
		}
		return caps
	}
	caps = append(caps, "NAMESPACE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED",
		"LIST-STATUS", "CONDSTORE", "UTF8=ACCEPT", "QUOTA", "QUOTA=RES-STORAGE",
		fmt.Sprintf("APPENDLIMIT=%d", s.srv.opt.Limits.MaxLiteral))
	if s.compressed == nil {
		caps = append(caps, "COMPRESS=DEFLATE")
	}
	extra := append([]string(nil), extraCaps...)
	sort.Strings(extra)
	return append(caps, extra...)
}

// enableCondstore turns CONDSTORE on for the rest of the session
// (RFC 7162 §3.1); with a mailbox selected, the client learns its
// HIGHESTMODSEQ through an untagged OK (RFC 7162 §3.1.2.1), since the
// SELECT response did not need to carry it for a client without
// CONDSTORE.
func (s *Session) enableCondstore() {
	if s.condstore {
		return
	}
	s.condstore = true
	if s.sel != nil {
		// RFC 7162 §3.1.2.1 (via "CONDSTORE enabling command")
		s.w.StatusResponse("", wire.OK, wire.CodeHighestModSeq(s.sel.highestModSeq), "Highest")
	}
}

// mailboxName decodes a mailbox name from the client into the store's
// UTF-8 name: modified UTF-7 unless UTF8=ACCEPT is enabled (RFC 3501
// §5.1.3, RFC 6855 §3).
func (s *Session) mailboxName(name string) (string, error) {
	if name == "INBOX" {
		return name, nil
	}
	if s.utf8 {
		return name, nil
	}
	dec, err := wire.DecodeMUTF7(name)
	if err != nil {
		return "", bad("", "invalid modified UTF-7 mailbox name")
	}
	return dec, nil
}

// wireName encodes a store mailbox name for a response.
func (s *Session) wireName(name string) string {
	if s.utf8 {
		return name
	}
	return wire.EncodeMUTF7(name)
}

// findMailbox returns the mailbox a client named, or NO [TRYCREATE] when it
// does not exist (RFC 3501 §6.3.11, §6.4.7).
func (s *Session) findMailbox(name string) (*store.Mailbox, error) {
	n, err := s.mailboxName(name)
	if err != nil {
		return nil, err
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, no(wire.CodeTryCreate, "no such mailbox")
	}
	if err != nil {
		return nil, fmt.Errorf("find mailbox %q: %w", n, err)
	}
	return mb, nil
}

// setSaved records the SEARCHRES result "$" (RFC 5182 §2.1) as UIDs.
func (s *Session) setSaved(uids []uint32) { s.saved = uids }

// ---- commands of any state: CAPABILITY, NOOP, LOGOUT (RFC 3501 §6.1) ----

func init() {
	register("CAPABILITY", handler{fn: (*Session).capability, states: anyState})
	register("NOOP", handler{fn: (*Session).noop, states: anyState})
	register("LOGOUT", handler{fn: (*Session).logoutCmd, states: anyState})
	register("CHECK", handler{fn: (*Session).noop, states: inSelected})
}

// capability: RFC 3501 §6.1.1.
func (s *Session) capability(*wire.Command) error {
	s.w.Capability(s.capabilities()...)
	return nil
}

// noop: RFC 3501 §6.1.2 (and CHECK, §6.4.1: nothing to checkpoint, every
// change is durable when acknowledged). Updates are sent by dispatch.
func (s *Session) noop(*wire.Command) error { return nil }

// logoutCmd: RFC 3501 §6.1.3.
func (s *Session) logoutCmd(*wire.Command) error {
	s.w.StatusResponse("", wire.BYE, "", "Eider logging out")
	s.logout = true
	return nil
}
