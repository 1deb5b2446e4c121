package imap

import (
	"fmt"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1).
//
// Only messages the client knows (the snapshot) are expunged: a message
// that arrived since the last EXISTS is left alone even if it has
// \Deleted, because the client cannot have meant it. The EXPUNGE
// responses come from the journal after the handler (handler contract).
// In a mailbox opened with EXAMINE nothing is removed: "NO [READ-ONLY]".

func init() {
	register("EXPUNGE", handler{fn: (*Session).expungeCmd, states: inSelected})
}

func (s *Session) expungeCmd(cmd *wire.Command) error {
	sm := s.sel
	if sm.readOnly {
		return no(wire.CodeReadOnly, "mailbox is read-only")
	}
	var uids []uint32
	if cmd.UID {
		a := cmd.Args.(*wire.ExpungeArgs)
		uids = s.uidSetUIDs(a.Set)
	} else {
		uids = sm.uids()
	}
	if len(uids) == 0 {
		return nil
	}
	// EXPUNGE: every UID from the first to the last one known, one range.
	set := store.UIDSet{{Start: uids[0], Stop: uids[len(uids)-1]}}
	if cmd.UID {
		set = storeSet(uids)
	}
	if _, err := s.svc.Expunge(s.ctx, s.user.ID, sm.id, set); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}
