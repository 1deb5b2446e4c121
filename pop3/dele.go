package pop3

import (
	"fmt"

	"github.com/eidermail/eider/pop3/wire"
)

// dele: DELE msg (RFC 1939 §5): marks the message; applied at QUIT.
func (ss *session) dele(cmd wire.Command) {
	if len(cmd.Args) != 1 {
		ss.w.Err(wire.CodeNone, "DELE takes one message number")
		return
	}
	n, m := ss.msgArg(cmd.Args[0])
	if m == nil {
		return
	}
	m.deleted = true
	ss.w.OK(fmt.Sprintf("message %d deleted", n))
}

// rset: RSET (RFC 1939 §5) unmarks deleted messages and, since nothing
// reaches the store before QUIT, also forgets which were retrieved.
func (ss *session) rset(cmd wire.Command) {
	for _, m := range ss.msgs {
		m.deleted, m.retrieved = false, false
	}
	n, size := ss.totals()
	ss.w.OK(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
}

// noop: NOOP (RFC 1939 §5).
func (ss *session) noop(cmd wire.Command) { ss.w.OK("") }
