package imap

import (
	"fmt"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// COPY and UID COPY (RFC 3501 §6.4.7, §6.4.8) with the COPYUID response
// code (RFC 4315 §3).
//
// COPY is atomic (RFC 3501 §6.4.7: all or nothing): if the set names a
// message another session expunged whose EXPUNGE is still held back, the
// command copies nothing and answers "NO [EXPUNGEISSUED]" (RFC 2180
// §4.4.1, RFC 5530 §3). UID COPY skips UIDs that no longer exist, as
// RFC 3501 §6.4.8 allows for any UID. A target that does not exist gets
// "NO [TRYCREATE]"; over quota "NO [OVERQUOTA]" (RFC 9208 §5).

func init() {
	register("COPY", handler{fn: (*Session).copyCmd, states: inSelected})
	advertise("UIDPLUS")
}

func (s *Session) copyCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.CopyArgs)
	uids, dst, err := s.copyArgs(cmd, a)
	if err != nil || len(uids) == 0 {
		return err
	}
	res, err := s.svc.Copy(s.ctx, s.user.ID, s.sel.id, storeSet(uids), dst.ID)
	if err != nil {
		return fmt.Errorf("copy to %q: %w", dst.Name, err)
	}
	if code := copyUID(res); code != "" {
		return okReply(code, cmdName(cmd)+" completed")
	}
	return nil
}

// copyArgs resolves the set and the target mailbox of COPY and MOVE.
// It returns no UIDs (and no error) when there is nothing to do.
func (s *Session) copyArgs(cmd *wire.Command, a *wire.CopyArgs) ([]uint32, *store.Mailbox, error) {
	uids, err := s.resolveSet(cmd.UID, a.Set)
	if err != nil {
		return nil, nil, err
	}
	dst, err := s.findMailbox(a.Mailbox)
	if err != nil {
		return nil, nil, err
	}
	live := uids[:0:0]
	for _, u := range uids {
		if s.sel.isExpunged(u) {
			if !cmd.UID {
				return nil, nil, no(wire.CodeExpungeIssued, "some of the messages were expunged; nothing was done")
			}
			continue
		}
		live = append(live, u)
	}
	return live, dst, nil
}

// copyUID is [COPYUID uidvalidity src dst] (RFC 4315 §3), source and
// target UIDs in corresponding order; "" when nothing was copied.
func copyUID(res *store.CopyResult) wire.Code {
	if res == nil || len(res.Pairs) == 0 {
		return ""
	}
	src := make([]uint32, len(res.Pairs))
	dst := make([]uint32, len(res.Pairs))
	for i, p := range res.Pairs {
		src[i], dst[i] = p.Src, p.Dst
	}
	return wire.CodeCopyUID(res.DstUIDValidity, wire.NumSetOf(src...), wire.NumSetOf(dst...))
}
