// Package events turns a user's journal entries (store.Change) into the
// contract's live update events (api.Event): the WebSocket/SSE stream of
// server and the webhook dispatcher publish exactly the same events.
package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
)

// Group is the events one journal entry produces, all with the
// entry's Seq as cursor: none (kinds the stream does not publish), one, or
// several (a move into Junk is message.moved then message.junk; the last
// entry of a batch also carries the batch's counter and quota events).
type Group struct {
	Seq    int64
	Events []*api.Event // read-only once built: shared by every consumer
}

// Build turns a batch of a user's journal entries (ascending Seq) into
// event groups, one per entry. It derives, from the batch alone, so that
// every front-end and every instance produces them:
//   - message.moved instead of message.created for an entry whose source
//     was removed (RFC 6851 MOVE), with sourceMailbox and sourceUid (also
//     on a copy's message.created);
//   - message.junk for a message moved or copied into the \Junk mailbox
//     (RFC 6154 §2), message.notjunk for one moved or copied out of it;
//   - after the batch, mailbox.counters for every mailbox whose messages
//     changed and user.quota when messages were added or removed. They are
//     read from the store once per batch (a burst of changes costs one read
//     per mailbox, not one per change) and carry the current values, also
//     when the batch is replayed from an old cursor.
func Build(ctx context.Context, st store.Store, userID string, batch []store.Change) ([]Group, error) {
	out, err := Entries(ctx, st, userID, batch)
	if err != nil || len(out) == 0 {
		return out, err
	}
	d, err := Derived(ctx, st, userID, batch)
	if err != nil {
		return nil, err
	}
	last := &out[len(out)-1]
	last.Events = append(last.Events, d...)
	return out, nil
}

// Entries is Build without the counter and quota events: one group per
// entry, reading the store only for the special uses of mailboxes when the
// batch holds a copy or a move.
func Entries(ctx context.Context, st store.Store, userID string, batch []store.Change) ([]Group, error) {
	out := make([]Group, 0, len(batch))
	var special map[string]string // mailbox ID -> special use, read once if needed
	for _, c := range batch {
		g := Group{Seq: c.Seq}
		ev, ok := Of(c)
		if ok {
			g.Events = append(g.Events, &ev)
		}
		if c.Kind == store.ChangeExists && c.SourceMailboxID != "" {
			if special == nil {
				var err error
				if special, err = specialUses(ctx, st, userID); err != nil {
					return nil, err
				}
			}
			into := special[c.MailboxID] == store.SpecialJunk
			outOf := special[c.SourceMailboxID] == store.SpecialJunk
			var t api.EventType
			switch {
			case into && !outOf:
				t = api.MessageJunk
			case outOf && !into:
				t = api.MessageNotjunk
			}
			if t != "" {
				j := ev // same cursor, mailbox, message, uid, source
				j.Type, j.Flags = t, nil
				g.Events = append(g.Events, &j)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// Derived returns the counter and quota events of a batch, with the cursor
// of its last entry: mailbox.counters for every mailbox whose messages
// changed, then user.quota if messages were added or removed.
func Derived(ctx context.Context, st store.Store, userID string, batch []store.Change) ([]*api.Event, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	seq := batch[len(batch)-1].Seq
	var touched []string // mailboxes with message changes, in first-seen order
	seen := map[string]bool{}
	quota := false
	for _, c := range batch {
		switch c.Kind {
		case store.ChangeExists, store.ChangeExpunge, store.ChangeFlags:
			if !seen[c.MailboxID] {
				seen[c.MailboxID] = true
				touched = append(touched, c.MailboxID)
			}
			quota = quota || c.Kind != store.ChangeFlags
		}
	}
	var out []*api.Event
	for _, mb := range touched {
		n, err := st.Counters(ctx, userID, mb)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: mailbox.deleted tells
		}
		if err != nil {
			return nil, fmt.Errorf("events: counters: %w", err)
		}
		id, total, unseen, size := mb, n.Total, n.Unseen, n.Size
		out = append(out, &api.Event{Type: api.MailboxCounters, Cursor: seq, Mailbox: &id,
			Total: &total, Unseen: &unseen, Size: &size})
	}
	if quota {
		u, err := st.GetUser(ctx, userID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("events: quota: %w", err)
		}
		if err == nil {
			used, limit := u.StorageUsed, u.QuotaLimit
			out = append(out, &api.Event{Type: api.UserQuota, Cursor: seq, Used: &used, Limit: &limit})
		}
	}
	return out, nil
}

// specialUses maps the user's mailbox IDs to their special use.
func specialUses(ctx context.Context, st store.Store, userID string) (map[string]string, error) {
	mbs, err := st.ListMailboxes(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("events: mailboxes: %w", err)
	}
	m := make(map[string]string, len(mbs))
	for _, mb := range mbs {
		m[mb.ID] = mb.SpecialUse
	}
	return m, nil
}

// Of turns one journal entry into the contract's Event; ok is false for
// kinds the stream does not publish. The cursor is the entry's Seq, so the
// events of one user are in non-decreasing cursor order.
func Of(c store.Change) (api.Event, bool) {
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
		if c.Moved {
			message(api.MessageMoved)
		} else {
			message(api.MessageCreated)
		}
		if c.SourceMailboxID != "" {
			src, suid := c.SourceMailboxID, int64(c.SourceUID)
			ev.SourceMailbox, ev.SourceUid = &src, &suid
		}
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
