package imap

import (
	"errors"
	"fmt"
	"slices"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

func init() {
	register("SELECT", handler{fn: (*Session).selectCmd, states: inAuth})
	register("EXAMINE", handler{fn: (*Session).selectCmd, states: inAuth})
	register("UNSELECT", handler{fn: (*Session).unselect, states: inSelected})
	register("CLOSE", handler{fn: (*Session).closeCmd, states: inSelected})
}

// permanentFlags: every system flag but \Recent, and new keywords (\*)
// (RFC 3501 §7.1 PERMANENTFLAGS).
var permanentFlags = append(slices.Clone(systemFlags), `\*`)

// deselect leaves the selected state (RFC 3501 §6.3.1: a failed SELECT also
// deselects).
func (s *Session) deselect() {
	s.sel = nil
	s.saved = nil
	s.state = authenticated
}

// selectCmd: SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2), with the
// CONDSTORE parameter (RFC 7162 §3.1.8) and HIGHESTMODSEQ (§3.1.2.1).
func (s *Session) selectCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.SelectArgs)
	readOnly := cmd.Name == "EXAMINE"
	if s.sel != nil {
		s.deselect()
		// RFC 7162 §3.2.11 (and RFC 9051 §7.1): the previous mailbox is
		// closed before the new one's responses.
		s.w.StatusResponse("", wire.OK, wire.CodeClosed, "previous mailbox closed")
	}
	if a.QResync != nil {
		return bad("", "QRESYNC is not supported")
	}
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	// Journal position first: a change between here and ListRefs is seen
	// twice (harmless: update skips what the snapshot already has), never
	// missed.
	pos, err := s.svc.Store.LastChange(s.ctx, s.user.ID)
	if err != nil {
		return fmt.Errorf("select: journal position: %w", err)
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return s.mailboxErr(err, "select %q", name)
	}
	refs, err := s.svc.Store.ListRefs(s.ctx, s.user.ID, mb.ID)
	if err != nil {
		return fmt.Errorf("select %q: list messages: %w", name, err)
	}
	sm := newSelected(mb, refs, readOnly)
	if a.CondStore {
		s.condstore = true
	}
	s.drainBeacons()
	s.pos = pos
	s.dirty = true // catch up right away on what happened since pos
	uidNext := mb.UIDNext
	if n := len(refs); n > 0 && refs[n-1].UID >= uidNext {
		uidNext = refs[n-1].UID + 1
	}
	s.w.FlagsResponse(sm.flags())
	s.w.Exists(sm.count())
	s.w.Recent(0) // \Recent is not kept (RFC 9051 dropped it)
	for i, r := range refs {
		if !slices.Contains(r.Flags, store.FlagSeen) {
			s.w.StatusResponse("", wire.OK, wire.CodeUnseen(uint32(i+1)), "first unseen")
			break
		}
	}
	s.w.StatusResponse("", wire.OK, wire.CodeUIDValidity(mb.UIDValidity), "UIDs valid")
	s.w.StatusResponse("", wire.OK, wire.CodeUIDNext(uidNext), "predicted next UID")
	if readOnly {
		s.w.StatusResponse("", wire.OK, wire.CodePermanentFlags(), "no permanent flags in read-only mode")
	} else {
		s.w.StatusResponse("", wire.OK, wire.CodePermanentFlags(permanentFlags...), "flags permitted")
	}
	s.w.StatusResponse("", wire.OK, wire.CodeHighestModSeq(sm.highestModSeq), "highest modseq")
	s.sel = sm
	s.state = selected
	if readOnly {
		return okReply(wire.CodeReadOnly, "EXAMINE completed")
	}
	return okReply(wire.CodeReadWrite, "SELECT completed")
}

// mailboxErr answers a store error about a named mailbox.
func (s *Session) mailboxErr(err error, format string, args ...any) error {
	if errIsNotFound(err) {
		return no(wire.CodeNonExistent, "no such mailbox")
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// unselect: UNSELECT (RFC 3691 §2): leave without expunging.
func (s *Session) unselect(*wire.Command) error {
	s.deselect()
	return nil
}

// closeCmd: CLOSE (RFC 3501 §6.4.2): silently expunge \Deleted messages
// (not in read-only mode: EXAMINE changes nothing), then deselect. No
// EXPUNGE responses are sent.
func (s *Session) closeCmd(*wire.Command) error {
	sm := s.sel
	s.deselect()
	if sm.readOnly {
		return nil
	}
	if _, err := s.svc.Expunge(s.ctx, s.user.ID, sm.id, nil); err != nil {
		return fmt.Errorf("close %q: expunge: %w", sm.name, err)
	}
	return nil
}

func errIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
