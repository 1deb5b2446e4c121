package server

import (
	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// eventOf turns one journal entry into the contract's Event; ok is false for
// kinds the stream does not publish. The cursor is the entry's Seq, so the
// events of one user are strictly increasing in cursor order.
func eventOf(c store.Change) (api.Event, bool) {
	ev := api.Event{Cursor: c.Seq}
	if !c.Time.IsZero() {
		t := c.Time.UTC()
		ev.Time = &t
	}
	mb := c.MailboxID
	ev.Mailbox = &mb
	message := func(t api.EventType) {
		ev.Type = t
		id := c.MessageID
		ev.Message = &id
		uid, ms := int64(c.UID), int64(c.ModSeq)
		ev.Uid, ev.Modseq = &uid, &ms
	}
	switch c.Kind {
	case store.ChangeExists:
		message(api.MessageCreated)
		f := flagsOf(c.Flags)
		ev.Flags = &f
	case store.ChangeExpunge:
		message(api.MessageDeleted)
	case store.ChangeFlags:
		message(api.MessageFlags)
		f := flagsOf(c.Flags)
		ev.Flags = &f
	case store.ChangeMailboxCreate, store.ChangeMailboxDelete, store.ChangeMailboxSubscribe:
		ev.Type = map[store.ChangeKind]api.EventType{
			store.ChangeMailboxCreate:    api.MailboxCreated,
			store.ChangeMailboxDelete:    api.MailboxDeleted,
			store.ChangeMailboxSubscribe: api.MailboxSubscription,
		}[c.Kind]
		n := c.Name
		ev.Name = &n
	case store.ChangeMailboxRename:
		ev.Type = api.MailboxRenamed
		n, o := c.Name, c.OldName
		ev.Name, ev.OldName = &n, &o
	default:
		return api.Event{}, false
	}
	return ev, true
}

// flagsOf never returns nil, so that "no flags" is [] in JSON.
func flagsOf(f []string) []string {
	if f == nil {
		return []string{}
	}
	return f
}
