package pop3

import (
	"fmt"

	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3/wire"
)

// quitCmd: QUIT (RFC 1939 §4, §6). After login it enters the UPDATE state:
// retrieved messages get \Seen, deleted ones go to Trash (or are removed).
func (ss *session) quitCmd(cmd wire.Command) {
	ss.quit = true
	if ss.state != stateTrans {
		ss.w.OK("bye")
		return
	}
	err := ss.update()
	// The maildrop is released before the reply, so a client that
	// reconnects as soon as it reads +OK finds it free (even on another
	// instance, where the lock lives in Redis).
	ss.releaseMaildrop()
	if err != nil {
		ss.log.Error("pop3 update", "user", ss.user.Username, "err", err)
		ss.w.Err(wire.CodeSysTemp, "some changes could not be saved")
		return
	}
	ss.w.OK("bye")
}

// releaseMaildrop drops the session's maildrop lock, once.
func (ss *session) releaseMaildrop() {
	if ss.unlock != nil {
		ss.unlock()
		ss.unlock = nil
	}
}

// update applies the session's pending changes through mail.Service, so
// every other session learns of them.
func (ss *session) update() error {
	svc := ss.srv.opt.Service
	var seen, del []uint32
	for _, m := range ss.msgs {
		if m.retrieved && !m.seen {
			seen = append(seen, m.uid)
		}
		if m.deleted {
			del = append(del, m.uid)
		}
	}
	if len(seen) > 0 {
		if _, err := svc.StoreFlags(ss.ctx, ss.user.ID, ss.inbox.ID, uidSet(seen), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
			return fmt.Errorf("mark seen: %w", err)
		}
	}
	if len(del) == 0 {
		return nil
	}
	if ss.srv.opt.DeleAction == DeleTrash {
		trash, err := svc.Store.FindSpecialUse(ss.ctx, ss.user.ID, store.SpecialTrash)
		if err == nil {
			if _, err := svc.Move(ss.ctx, ss.user.ID, ss.inbox.ID, uidSet(del), trash.ID); err != nil {
				return fmt.Errorf("move to Trash: %w", err)
			}
			return nil
		}
		ss.log.Warn("pop3: no Trash mailbox; expunging", "user", ss.user.Username, "err", err)
	}
	if _, err := svc.Delete(ss.ctx, ss.user.ID, ss.inbox.ID, uidSet(del)); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}
