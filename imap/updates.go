package imap

import (
	"fmt"
	"slices"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// journalBatch is how many journal entries one store call returns.
const journalBatch = 1000

// subscribe starts following the user's change beacons (at login).
func (s *Session) subscribe() error {
	ch, cancel, err := s.svc.Bus.Subscribe(s.ctx, s.user.ID)
	if err != nil {
		return fmt.Errorf("subscribe to changes of %s: %w", s.user.ID, err)
	}
	s.beacons, s.unsubscribe = ch, cancel
	return nil
}

// drainBeacons takes a waiting beacon without reading the journal (no
// mailbox selected: SELECT starts from the journal's end anyway).
func (s *Session) drainBeacons() {
	select {
	case <-s.beacons:
	default:
	}
	s.dirty = false
}

// update brings the selected mailbox's snapshot up to date with the journal
// if a beacon arrived, and writes the untagged responses the client must
// see: EXPUNGE (only when allowExpunge, RFC 3501 §7.4.1), EXISTS
// (§7.3.1), FLAGS for new keywords (§7.2.6) and FETCH (FLAGS [MODSEQ]) for
// flag changes (§7.4.2, RFC 7162 §3.1.4 / §3.2.4 when CONDSTORE is on).
func (s *Session) update(allowExpunge bool) error {
	select {
	case <-s.beacons:
		s.dirty = true
	default:
	}
	sm := s.sel
	if s.dirty {
		for {
			chs, err := s.svc.Store.Changes(s.ctx, s.user.ID, sm.id, s.pos, journalBatch)
			if err != nil {
				return fmt.Errorf("read journal of %s after %d: %w", sm.id, s.pos, err)
			}
			for i := range chs {
				s.apply(&chs[i], allowExpunge)
				s.pos = chs[i].Seq
			}
			if len(chs) < journalBatch {
				break
			}
		}
		s.dirty = false
		for uid, ms := range sm.reportedM {
			if ms <= sm.highestModSeq {
				delete(sm.reportedM, uid)
			}
		}
	}
	if allowExpunge && len(sm.expunged) > 0 {
		s.announceExists()
		held := make([]uint32, 0, len(sm.expunged))
		for uid := range sm.expunged {
			held = append(held, uid)
		}
		slices.Sort(held)
		// Highest first: each EXPUNGE renumbers only the messages after it.
		for i := len(held) - 1; i >= 0; i-- {
			s.expungeUID(held[i])
		}
		clear(sm.expunged)
	}
	s.announceExists()
	return nil
}

// announceExists sends EXISTS if the snapshot grew since the last one.
func (s *Session) announceExists() {
	sm := s.sel
	if n := sm.count(); n != sm.announced {
		s.w.Exists(n)
		sm.announced = n
	}
}

// expungeUID removes uid from the snapshot and sends its EXPUNGE.
func (s *Session) expungeUID(uid uint32) {
	sm := s.sel
	seq := sm.seq(uid)
	if seq == 0 {
		return
	}
	s.w.Expunge(seq)
	sm.list = slices.Delete(sm.list, int(seq-1), int(seq))
	sm.announced--
	delete(sm.reportedM, uid)
}

// apply turns one journal entry into snapshot changes and responses.
func (s *Session) apply(c *store.Change, allowExpunge bool) {
	sm := s.sel
	if c.MailboxID != sm.id {
		return
	}
	if c.ModSeq > sm.highestModSeq {
		sm.highestModSeq = c.ModSeq
	}
	switch c.Kind {
	case store.ChangeExists:
		if n := len(sm.list); n > 0 && c.UID <= sm.list[n-1] {
			return // already in the snapshot (read at SELECT)
		}
		sm.list = append(sm.list, c.UID)
		if sm.noteFlags(c.Flags) {
			s.w.FlagsResponse(sm.flags())
		}
	case store.ChangeExpunge:
		if sm.seq(c.UID) == 0 {
			return
		}
		if !allowExpunge {
			sm.expunged[c.UID] = true
			return
		}
		// The client must have heard of a message before its EXPUNGE.
		s.announceExists()
		s.expungeUID(c.UID)
	case store.ChangeFlags:
		seq := sm.seq(c.UID)
		if seq == 0 || sm.expunged[c.UID] || sm.reportedM[c.UID] >= c.ModSeq {
			return
		}
		if sm.noteFlags(c.Flags) {
			s.w.FlagsResponse(sm.flags())
		}
		if seq > sm.announced {
			s.announceExists()
		}
		f := s.w.StartFetch(seq)
		f.UID(c.UID)
		f.Flags(c.Flags)
		if s.condstore {
			f.ModSeq(c.ModSeq)
		}
		f.End()
	case store.ChangeMailboxRename:
		sm.name = c.Name
	case store.ChangeMailboxDelete:
		// The selected mailbox is gone (deleted by another session):
		// RFC 3501 §7.1.5 lets the server end the session with BYE.
		s.w.StatusResponse("", wire.BYE, "", "selected mailbox was deleted")
		s.logout = true
	}
}
