package server

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/server/events"
)

// outEvent is an event on its way to the streams, with its JSON encoding
// made once however many streams of the user send it.
type outEvent struct {
	ev   *api.Event // read-only: shared by every stream
	once sync.Once
	b    []byte
	err  error
}

func newOutEvent(ev *api.Event) *outEvent { return &outEvent{ev: ev} }

// json returns the event's encoding; safe for concurrent use.
func (o *outEvent) json() ([]byte, error) {
	o.once.Do(func() { o.b, o.err = json.Marshal(o.ev) })
	return o.b, o.err
}

// outGroup is the events of one journal entry (see events.Group).
type outGroup struct {
	seq    int64
	events []*outEvent
}

// eventsOf turns a batch of the user's journal entries into event groups
// (see events.Build).
func (h *Handlers) eventsOf(ctx context.Context, userID string, batch []store.Change) ([]outGroup, error) {
	gs, err := events.Build(ctx, h.svc.Store, userID, batch)
	if err != nil {
		return nil, err
	}
	return wrapGroups(gs), nil
}

// entriesOf is eventsOf without the counter and quota events (see
// events.Entries); derivedOf gives those (events.Derived).
func (h *Handlers) entriesOf(ctx context.Context, userID string, batch []store.Change) ([]outGroup, error) {
	gs, err := events.Entries(ctx, h.svc.Store, userID, batch)
	if err != nil {
		return nil, err
	}
	return wrapGroups(gs), nil
}

func (h *Handlers) derivedOf(ctx context.Context, userID string, batch []store.Change) ([]*outEvent, error) {
	evs, err := events.Derived(ctx, h.svc.Store, userID, batch)
	if err != nil {
		return nil, err
	}
	return wrapEvents(evs), nil
}

func wrapGroups(gs []events.Group) []outGroup {
	out := make([]outGroup, len(gs))
	for i, g := range gs {
		out[i] = outGroup{seq: g.Seq, events: wrapEvents(g.Events)}
	}
	return out
}

func wrapEvents(evs []*api.Event) []*outEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]*outEvent, len(evs))
	for i, ev := range evs {
		out[i] = newOutEvent(ev)
	}
	return out
}
