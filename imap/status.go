package imap

import (
	"fmt"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

func init() {
	register("STATUS", handler{fn: (*Session).status, states: inAuth})
}

// status: STATUS (RFC 3501 §6.3.10) with HIGHESTMODSEQ (RFC 7162 §3.1.6),
// SIZE (RFC 8438), DELETED (RFC 9051) and APPENDLIMIT (RFC 7889 §3).
func (s *Session) status(cmd *wire.Command) error {
	a := cmd.Args.(*wire.StatusArgs)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return s.mailboxErr(err, "status %q", name)
	}
	return s.writeStatus(mb, a.Items)
}

// writeStatus writes "* STATUS" for mb (also used by LIST-STATUS).
func (s *Session) writeStatus(mb *store.Mailbox, items []wire.StatusItem) error {
	var counters *store.Counters
	count := func() (*store.Counters, error) {
		if counters == nil {
			c, err := s.svc.Store.Counters(s.ctx, s.user.ID, mb.ID)
			if err != nil {
				return nil, fmt.Errorf("status %q: %w", mb.Name, err)
			}
			counters = &c
		}
		return counters, nil
	}
	vals := make([]wire.StatusValue, 0, len(items))
	for _, it := range items {
		var v uint64
		switch it {
		case wire.StatusMessages, wire.StatusUnseen, wire.StatusSize:
			c, err := count()
			if err != nil {
				return err
			}
			switch it {
			case wire.StatusMessages:
				v = uint64(c.Total)
			case wire.StatusUnseen:
				v = uint64(c.Unseen)
			default:
				v = uint64(c.Size)
			}
		case wire.StatusRecent:
			v = 0 // \Recent is not kept
		case wire.StatusUIDNext:
			v = uint64(mb.UIDNext)
		case wire.StatusUIDValidity:
			v = uint64(mb.UIDValidity)
		case wire.StatusHighestModSeq:
			s.enableCondstore() // RFC 7162 §3.1: a CONDSTORE enabling command
			v = mb.HighestModSeq
		case wire.StatusDeleted:
			uids, err := s.svc.Store.Search(s.ctx, s.user.ID, mb.ID, &store.Criteria{Flag: []string{store.FlagDeleted}})
			if err != nil {
				return fmt.Errorf("status %q: deleted: %w", mb.Name, err)
			}
			v = uint64(len(uids))
		case wire.StatusAppendLimit:
			v = uint64(s.srv.opt.Limits.MaxLiteral)
		default:
			continue
		}
		vals = append(vals, wire.StatusValue{Item: it, Value: v})
	}
	s.w.StatusData(s.wireName(mb.Name), vals)
	return nil
}
