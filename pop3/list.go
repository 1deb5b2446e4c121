package pop3

import (
	"fmt"
	"strconv"

	"github.com/eidermail/eider/pop3/wire"
)

// msgArg resolves a message-number argument (RFC 1939 §5): it must name a
// message of the listing that is not marked deleted. On failure it has
// answered -ERR and returns nil.
func (ss *session) msgArg(arg string) (int, *message) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(ss.msgs) || len(arg) > 10 {
		ss.w.Err(wire.CodeNone, "no such message")
		return 0, nil
	}
	m := ss.msgs[n-1]
	if m.deleted {
		ss.w.Err(wire.CodeNone, fmt.Sprintf("message %d already deleted", n))
		return 0, nil
	}
	return n, m
}

// stat: STAT (RFC 1939 §5).
func (ss *session) stat(cmd wire.Command) {
	n, size := ss.totals()
	ss.w.OK(fmt.Sprintf("%d %d", n, size))
}

// list: LIST [msg] (RFC 1939 §5). The size is the stored size.
func (ss *session) list(cmd wire.Command) {
	ss.scanListing(cmd, func(m *message) string { return strconv.FormatInt(m.size, 10) })
}

// uidl: UIDL [msg] (RFC 1939 §7): the store ID, stable and never reused.
func (ss *session) uidl(cmd wire.Command) {
	ss.scanListing(cmd, func(m *message) string { return m.id })
}

func (ss *session) scanListing(cmd wire.Command, val func(*message) string) {
	switch len(cmd.Args) {
	case 0:
		n, size := ss.totals()
		ss.w.OK(fmt.Sprintf("%d messages (%d octets)", n, size))
		lines := make([]string, 0, n)
		for i, m := range ss.msgs {
			if !m.deleted {
				lines = append(lines, strconv.Itoa(i+1)+" "+val(m))
			}
		}
		ss.w.Lines(lines...)
	case 1:
		if n, m := ss.msgArg(cmd.Args[0]); m != nil {
			ss.w.OK(strconv.Itoa(n) + " " + val(m))
		}
	default:
		ss.w.Err(wire.CodeNone, "too many arguments")
	}
}
