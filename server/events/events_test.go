package events_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/server/events"
)

// TestBuild runs real changes through a real core (SQLite) and checks the
// events Build derives from its journal: moved/junk/notjunk with sources,
// and one counters event per touched mailbox plus one quota event, at the
// end of the batch with its last cursor.
func TestBuild(t *testing.T) {
	ctx := context.Background()
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	u, err := svc.CreateUser(ctx, "eve", "secret-pass-1", "", 5000)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	junk, _ := svc.Store.FindSpecialUse(ctx, u.ID, store.SpecialJunk)
	start, _ := svc.Store.LastChange(ctx, u.ID)
	raw := "Subject: x\r\n\r\nbody\r\n"
	m, err := svc.Append(ctx, u.ID, in.ID, strings.NewReader(raw), nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	one := store.UIDSet{{Start: 1, Stop: 1}}
	if _, err := svc.Copy(ctx, u.ID, in.ID, one, junk.ID); err != nil { // copy into Junk: junk
		t.Fatal(err)
	}
	if _, err := svc.Move(ctx, u.ID, junk.ID, one, in.ID); err != nil { // the copy out of Junk: notjunk
		t.Fatal(err)
	}
	batch, err := svc.Store.Changes(ctx, u.ID, "", start, 0)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := events.Build(ctx, svc.Store, u.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != len(batch) {
		t.Fatalf("%d groups for %d entries", len(gs), len(batch))
	}
	var types []string
	for i, g := range gs {
		if g.Seq != batch[i].Seq {
			t.Fatalf("group %d seq %d, entry %d", i, g.Seq, batch[i].Seq)
		}
		for _, ev := range g.Events {
			if ev.Cursor != g.Seq {
				t.Fatalf("event %s cursor %d in group %d", ev.Type, ev.Cursor, g.Seq)
			}
			types = append(types, string(ev.Type))
		}
	}
	want := "message.created message.created message.junk message.moved message.notjunk message.deleted " +
		"mailbox.counters mailbox.counters user.quota"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	all := gs[len(gs)-1].Events
	junkEv := gs[1].Events[1]
	if *junkEv.Mailbox != junk.ID || *junkEv.SourceMailbox != in.ID || *junkEv.SourceUid != int64(m.UID) || junkEv.Flags != nil {
		t.Fatalf("junk event %+v", junkEv)
	}
	moved := gs[2].Events[0]
	if *moved.Mailbox != in.ID || *moved.SourceMailbox != junk.ID || *moved.SourceUid != 1 {
		t.Fatalf("moved event %+v", moved)
	}
	cin, cjunk, q := all[len(all)-3], all[len(all)-2], all[len(all)-1]
	size := int64(len(raw))
	if *cin.Mailbox != in.ID || *cin.Total != 2 || *cin.Size != 2*size || *cjunk.Mailbox != junk.ID || *cjunk.Total != 0 {
		t.Fatalf("counters %+v %+v", cin, cjunk)
	}
	if q.Type != api.UserQuota || *q.Used != 2*size || *q.Limit != 5000 {
		t.Fatalf("quota %+v", q)
	}

	// Entries + Derived is Build, split.
	es, err := events.Entries(ctx, svc.Store, u.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	d, err := events.Derived(ctx, svc.Store, u.ID, batch)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(es[len(es)-1].Events) + len(d); n != len(all) || len(d) != 3 {
		t.Fatalf("Entries+Derived: %d events in the last group, want %d", n, len(all))
	}
}
