package pop3

import (
	"fmt"
	"slices"

	"github.com/eidermail/eider/mail/store"
)

// load snapshots the newest MaxMessages messages of the user's INBOX,
// oldest first (RFC 1939 §5: messages are numbered from 1).
func (ss *session) load(u *store.User) error {
	st := ss.srv.opt.Service.Store
	inbox, err := st.FindMailbox(ss.ctx, u.ID, "INBOX")
	if err != nil {
		return fmt.Errorf("find INBOX: %w", err)
	}
	refs, err := st.ListRefs(ss.ctx, u.ID, inbox.ID)
	if err != nil {
		return fmt.Errorf("list INBOX: %w", err)
	}
	if n := ss.srv.opt.MaxMessages; len(refs) > n {
		refs = refs[len(refs)-n:]
	}
	ss.inbox, ss.msgs = inbox, nil
	if len(refs) == 0 {
		return nil
	}
	want := make(map[uint32]store.MessageRef, len(refs))
	for _, r := range refs {
		want[r.UID] = r
	}
	ms, err := st.Fetch(ss.ctx, u.ID, inbox.ID, store.UIDSet{{Start: refs[0].UID, Stop: refs[len(refs)-1].UID}}, false)
	if err != nil {
		return fmt.Errorf("fetch INBOX: %w", err)
	}
	for _, m := range ms {
		r, ok := want[m.UID]
		if !ok {
			continue
		}
		ss.msgs = append(ss.msgs, &message{id: m.ID, uid: m.UID, size: m.Size, seen: slices.Contains(r.Flags, store.FlagSeen)})
	}
	return nil
}

// totals counts the messages not marked deleted and their octets.
func (ss *session) totals() (n int, size int64) {
	for _, m := range ss.msgs {
		if !m.deleted {
			n++
			size += m.size
		}
	}
	return n, size
}

// uidSet turns ascending UIDs into ranges.
func uidSet(uids []uint32) store.UIDSet {
	var set store.UIDSet
	for _, u := range uids {
		if n := len(set); n > 0 && set[n-1].Stop+1 == u {
			set[n-1].Stop = u
			continue
		}
		set = append(set, store.UIDRange{Start: u, Stop: u})
	}
	return set
}
