package pop3

import (
	"fmt"
	"io"
	"strconv"

	"github.com/eidermail/eider/pop3/wire"
)

// retr: RETR msg (RFC 1939 §5). The message is marked for \Seen, applied
// at QUIT.
func (ss *session) retr(cmd wire.Command) {
	if len(cmd.Args) != 1 {
		ss.w.Err(wire.CodeNone, "RETR takes one message number")
		return
	}
	_, m := ss.msgArg(cmd.Args[0])
	if m == nil {
		return
	}
	if ss.send(m, fmt.Sprintf("%d octets", m.size), func(w io.Writer, r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	}) {
		m.retrieved = true
	}
}

// top: TOP msg n (RFC 1939 §7): the header and the first n body lines.
func (ss *session) top(cmd wire.Command) {
	if len(cmd.Args) != 2 {
		ss.w.Err(wire.CodeNone, "TOP takes a message number and a line count")
		return
	}
	_, m := ss.msgArg(cmd.Args[0])
	if m == nil {
		return
	}
	n, err := strconv.Atoi(cmd.Args[1])
	if err != nil || n < 0 {
		ss.w.Err(wire.CodeNone, "invalid line count")
		return
	}
	ss.send(m, "top of message follows", func(w io.Writer, r io.Reader) error { return wire.Top(w, r, n) })
}

// send streams a message as a multi-line response. An error before the
// first byte is answered with -ERR; one in the middle cannot be, so the
// connection is closed (the client sees no terminating "." and keeps
// nothing).
func (ss *session) send(m *message, okText string, copy func(io.Writer, io.Reader) error) bool {
	st := ss.srv.opt.Service.Store
	msg, err := st.GetMessage(ss.ctx, ss.user.ID, m.id)
	if err != nil {
		ss.log.Warn("pop3 open message", "user", ss.user.Username, "id", m.id, "err", err)
		ss.w.Err(wire.CodeSysTemp, "message unavailable")
		return false
	}
	rc, err := st.OpenMessage(ss.ctx, msg, 0, -1)
	if err != nil {
		ss.log.Warn("pop3 open message", "user", ss.user.Username, "id", m.id, "err", err)
		ss.w.Err(wire.CodeSysTemp, "message unavailable")
		return false
	}
	defer rc.Close()
	ss.w.OK(okText)
	body := ss.w.Body()
	if err := copy(body, rc); err != nil {
		ss.log.Error("pop3 send message", "user", ss.user.Username, "id", m.id, "err", err)
		ss.quit = true
		ss.conn.Close()
		return false
	}
	body.Close()
	return true
}
