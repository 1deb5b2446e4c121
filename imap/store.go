package imap

import (
	"fmt"
	"slices"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8) with UNCHANGEDSINCE and
// the MODIFIED response code (RFC 7162 §3.1.3).
//
// Responses: without .SILENT, one untagged FETCH (FLAGS, plus UID for UID
// STORE and MODSEQ when CONDSTORE is on) for every message of the set that
// passed the UNCHANGEDSINCE test, with its flags after the change. With
// .SILENT and CONDSTORE, the messages whose flags changed still get
// "FETCH (MODSEQ (n))" (RFC 7162 §3.1.3, example 3) so the client learns
// the new mod-sequence; with .SILENT alone, nothing.
//
// In a mailbox opened with EXAMINE the command is refused with
// "NO [READ-ONLY]" and nothing changes. Messages another session expunged
// whose EXPUNGE is still held back are skipped: the rest of the set is
// stored and the command succeeds (RFC 2180 §4.2.1); they get no FETCH.

func init() {
	register("STORE", handler{fn: (*Session).storeCmd, states: inSelected, noExpunge: true})
}

func (s *Session) storeCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.StoreArgs)
	sm := s.sel
	if a.HasUnchangedSince {
		s.enableCondstore() // RFC 7162 §3.1
	}
	for _, f := range a.Flags {
		if len(f) > 0 && f[0] == '\\' && !slices.Contains(systemFlags, f) {
			// \Recent cannot be changed by a client (RFC 3501 §2.3.2);
			// other \-flags do not exist.
			return bad("", "flag %s cannot be stored", f)
		}
	}
	if sm.readOnly {
		return no(wire.CodeReadOnly, "mailbox is read-only")
	}
	uids, err := s.resolveSet(cmd.UID, a.Set)
	if err != nil {
		return err
	}
	live := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if !sm.isExpunged(u) {
			live = append(live, u)
		}
	}
	if len(live) == 0 {
		return nil
	}
	up := store.FlagUpdate{Flags: a.Flags, UnchangedSince: a.UnchangedSince}
	switch a.Mode {
	case wire.StoreAdd:
		up.Mode = store.FlagsAdd
	case wire.StoreRemove:
		up.Mode = store.FlagsRemove
	default:
		up.Mode = store.FlagsSet
	}
	var res *store.FlagResult
	if a.HasUnchangedSince && a.UnchangedSince == 0 {
		// UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3:
		// every message has a mod-sequence of at least 1).
		res = &store.FlagResult{Modified: live}
	} else {
		res, err = s.svc.StoreFlags(s.ctx, s.user.ID, sm.id, storeSet(live), up)
		if err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
	}
	if err := s.storeResponses(cmd, a, live, res); err != nil {
		return err
	}
	if len(res.Modified) > 0 {
		mod := res.Modified
		if !cmd.UID {
			mod = make([]uint32, 0, len(res.Modified))
			for _, u := range res.Modified {
				if n := sm.seq(u); n != 0 {
					mod = append(mod, n)
				}
			}
		}
		return okReply(wire.CodeModified(wire.NumSetOf(mod...)), "Conditional STORE failed")
	}
	return nil
}

// storeResponses writes the untagged FETCH responses of a STORE and marks
// them reported so that the journal does not repeat them.
func (s *Session) storeResponses(cmd *wire.Command, a *wire.StoreArgs, live []uint32, res *store.FlagResult) error {
	sm := s.sel
	for _, ref := range res.Updated {
		if sm.noteFlags(ref.Flags) {
			s.w.FlagsResponse(sm.flags()) // RFC 3501 §7.2.6: a new keyword
		}
	}
	if a.Silent {
		for _, ref := range res.Updated {
			sm.reported(ref.UID, ref.ModSeq)
			if !s.condstore {
				continue
			}
			s.w.Raw("* ")
			s.w.Number(uint64(sm.seq(ref.UID)))
			s.w.Raw(" FETCH (")
			if cmd.UID {
				s.w.Raw("UID ")
				s.w.Number(uint64(ref.UID))
				s.w.SP()
			}
			writeModSeq(s.w, ref.ModSeq)
			s.w.Raw(")\r\n")
		}
		return nil
	}
	// Every message of the set that passed the test gets its flags, changed
	// or not (RFC 3501 §6.4.6). The changed ones come with the result;
	// only the unchanged ones (flags already as asked) are read back.
	skip := make(map[uint32]bool, len(res.Modified)+len(res.Updated))
	for _, u := range res.Modified {
		skip[u] = true
	}
	updated := make(map[uint32]*store.MessageRef, len(res.Updated))
	for i := range res.Updated {
		updated[res.Updated[i].UID] = &res.Updated[i]
		skip[res.Updated[i].UID] = true
	}
	var rest []uint32
	for _, u := range live {
		if !skip[u] {
			rest = append(rest, u)
		}
	}
	items := []wire.FetchItem{{Kind: wire.FetchFlags}}
	if cmd.UID {
		items = append(items, wire.FetchItem{Kind: wire.FetchUID})
	}
	if s.condstore {
		items = append(items, wire.FetchItem{Kind: wire.FetchModSeq})
	}
	var m store.Message
	write := func(ref *store.MessageRef) error {
		if sm.noteFlags(ref.Flags) {
			s.w.FlagsResponse(sm.flags())
		}
		m.MessageRef = *ref
		if err := s.writeFetch(sm.seq(ref.UID), &m, nil, items, false); err != nil {
			return err
		}
		sm.reported(ref.UID, ref.ModSeq)
		return nil
	}
	var unchanged []store.Message
	for start := 0; start < len(rest); start += fetchRefBatch {
		batch := rest[start:min(start+fetchRefBatch, len(rest))]
		msgs, err := s.svc.Store.Fetch(s.ctx, s.user.ID, sm.id, storeSet(batch), false)
		if err != nil {
			return fmt.Errorf("store: read flags back: %w", err)
		}
		unchanged = append(unchanged, msgs...)
	}
	// Responses in the order of the set (ascending): changed and unchanged
	// messages merged.
	j := 0
	for _, u := range live {
		if ref := updated[u]; ref != nil {
			if err := write(ref); err != nil {
				return err
			}
			continue
		}
		for j < len(unchanged) && unchanged[j].UID < u {
			j++
		}
		if j < len(unchanged) && unchanged[j].UID == u {
			if err := write(&unchanged[j].MessageRef); err != nil {
				return err
			}
		}
	}
	return nil
}
