package imap

import (
	"fmt"

	"github.com/eidermail/eider/imap/wire"
)

// MOVE and UID MOVE (RFC 6851 §3). The store moves the messages in one
// transaction. The COPYUID code goes into an untagged OK sent before the
// expunges (RFC 6851 §4.3, RFC 4315); the EXPUNGE (or VANISHED) responses
// for the moved messages come from the journal right after the handler
// returns, as for any expunge the session made (see the handler contract).
// A mailbox opened with EXAMINE refuses MOVE ("NO [READ-ONLY]"): it would
// expunge from it.

func init() {
	register("MOVE", handler{fn: (*Session).moveCmd, states: inSelected})
	advertise("MOVE")
}

func (s *Session) moveCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.CopyArgs)
	if s.sel.readOnly {
		return no(wire.CodeReadOnly, "mailbox is read-only")
	}
	uids, dst, err := s.copyArgs(cmd, a)
	if err != nil || len(uids) == 0 {
		return err
	}
	res, err := s.svc.Move(s.ctx, s.user.ID, s.sel.id, storeSet(uids), dst.ID)
	if err != nil {
		return fmt.Errorf("move to %q: %w", dst.Name, err)
	}
	if code := copyUID(res); code != "" {
		s.w.StatusResponse("", wire.OK, code, "moved")
	}
	return nil
}
