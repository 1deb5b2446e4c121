package imap

import (
	"slices"
	"sort"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// selectedMailbox is a session's view of its selected mailbox: the UIDs the
// client knows, in sequence-number order (RFC 3501 §2.3.1.2), and the last
// MODSEQ it has seen.
//
// Invariants:
//   - list is strictly ascending; message sequence number n is list[n-1].
//   - Outside of update, every UID in list has been announced to the client
//     (EXISTS) and no UID the client was told about is missing: a message
//     expunged by someone else while EXPUNGE responses are forbidden stays
//     in list, marked in expunged, until the EXPUNGE is sent.
//   - highestModSeq only grows.
type selectedMailbox struct {
	id            string
	name          string // store name (UTF-8)
	uidValidity   uint32
	readOnly      bool // EXAMINE (RFC 3501 §6.3.2)
	highestModSeq uint64

	list      []uint32
	announced uint32            // messages the client was told exist
	expunged  map[uint32]bool   // expunged in the store, EXPUNGE not yet sent
	keywords  map[string]bool   // keywords in use, for FLAGS (RFC 3501 §7.2.6)
	reportedM map[uint32]uint64 // flag changes already sent by the handler
}

// newSelected builds a snapshot from the store's refs (ascending UID).
func newSelected(mb *store.Mailbox, refs []store.MessageRef, readOnly bool) *selectedMailbox {
	sm := &selectedMailbox{
		id: mb.ID, name: mb.Name, uidValidity: mb.UIDValidity, readOnly: readOnly,
		highestModSeq: mb.HighestModSeq,
		list:          make([]uint32, len(refs)),
		expunged:      map[uint32]bool{},
		keywords:      map[string]bool{},
		reportedM:     map[uint32]uint64{},
	}
	for i, r := range refs {
		sm.list[i] = r.UID
		sm.noteFlags(r.Flags)
		if r.ModSeq > sm.highestModSeq {
			sm.highestModSeq = r.ModSeq
		}
	}
	sm.announced = uint32(len(sm.list))
	return sm
}

// count is the number of messages the client knows (the highest sequence
// number).
func (sm *selectedMailbox) count() uint32 { return uint32(len(sm.list)) }

// uid returns the UID of sequence number seq (1-based), 0 if out of range.
func (sm *selectedMailbox) uid(seq uint32) uint32 {
	if seq == 0 || seq > uint32(len(sm.list)) {
		return 0
	}
	return sm.list[seq-1]
}

// seq returns the sequence number of uid, 0 if it is not in the snapshot.
func (sm *selectedMailbox) seq(uid uint32) uint32 {
	i, ok := slices.BinarySearch(sm.list, uid)
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

// uids returns the snapshot's UIDs in sequence order; callers must not
// modify it.
func (sm *selectedMailbox) uids() []uint32 { return sm.list }

// isExpunged reports whether uid was expunged by another session and the
// EXPUNGE response is still held back (RFC 3501 §7.4.1).
func (sm *selectedMailbox) isExpunged(uid uint32) bool { return sm.expunged[uid] }

// reported records that the handler sent the flags of uid as of modseq,
// so the journal entry of the same change is not sent again.
func (sm *selectedMailbox) reported(uid uint32, modseq uint64) {
	if modseq > sm.reportedM[uid] {
		sm.reportedM[uid] = modseq
	}
}

// seqSetUIDs resolves a message sequence set against the snapshot
// (RFC 3501 §9 seq-number: "*" is the highest sequence number; a number
// above it is a client error, answered BAD). "$" is the saved result.
//
// In an empty mailbox every sequence set is BAD, "*" included: RFC 9051
// §9 defines "*" for message sequence numbers as "the number of messages
// in a non-empty mailbox", and Dovecot answers "FETCH 1:*" and "FETCH *"
// there with BAD too (imap/dovecot_test.go). Clients use "UID FETCH 1:*"
// (OK, nothing returned) or check EXISTS first. SEARCH resolves its sets
// itself (searchSeqSet) and matches nothing instead.
func (s *Session) seqSetUIDs(set wire.NumSet) ([]uint32, error) {
	sm := s.sel
	if set.Saved {
		return sm.filter(s.saved), nil
	}
	var out []uint32
	n := sm.count()
	if n == 0 {
		return nil, bad("", "invalid message sequence set: the mailbox is empty")
	}
	for _, rg := range set.Resolve(n) {
		if rg.Stop > n {
			return nil, bad("", "invalid message sequence number %d (the mailbox has %d messages)", rg.Stop, n)
		}
		out = append(out, sm.list[rg.Start-1:rg.Stop]...)
	}
	return out, nil
}

// uidSetUIDs resolves a UID set against the snapshot: "*" is the highest
// UID in the snapshot, UIDs that do not exist are skipped (RFC 3501 §6.4.8,
// §9). "$" is the saved result.
func (s *Session) uidSetUIDs(set wire.NumSet) []uint32 {
	sm := s.sel
	if set.Saved {
		return sm.filter(s.saved)
	}
	var max uint32
	if len(sm.list) > 0 {
		max = sm.list[len(sm.list)-1]
	}
	var out []uint32
	for _, rg := range set.Resolve(max) {
		i := sort.Search(len(sm.list), func(i int) bool { return sm.list[i] >= rg.Start })
		for ; i < len(sm.list) && sm.list[i] <= rg.Stop; i++ {
			out = append(out, sm.list[i])
		}
	}
	return out
}

// filter keeps the UIDs (ascending) that are in the snapshot.
func (sm *selectedMailbox) filter(uids []uint32) []uint32 {
	var out []uint32
	for _, u := range uids {
		if sm.seq(u) != 0 {
			out = append(out, u)
		}
	}
	return out
}

// storeSet turns ascending UIDs into a compact store.UIDSet.
func storeSet(uids []uint32) store.UIDSet {
	var set store.UIDSet
	for _, u := range uids {
		if k := len(set); k > 0 && set[k-1].Stop+1 == u {
			set[k-1].Stop = u
			continue
		}
		set = append(set, store.UIDRange{Start: u, Stop: u})
	}
	return set
}

// systemFlags are the flags of RFC 3501 §2.3.2 every mailbox supports.
var systemFlags = []string{store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagSeen, store.FlagDraft}

// noteFlags adds unknown keywords; it reports whether there were any.
func (sm *selectedMailbox) noteFlags(flags []string) bool {
	added := false
	for _, f := range flags {
		if len(f) > 0 && f[0] == '\\' {
			continue
		}
		if !sm.keywords[f] {
			sm.keywords[f] = true
			added = true
		}
	}
	return added
}

// flags is the FLAGS list: system flags then keywords, sorted.
func (sm *selectedMailbox) flags() []string {
	kw := make([]string, 0, len(sm.keywords))
	for k := range sm.keywords {
		kw = append(kw, k)
	}
	sort.Strings(kw)
	return append(slices.Clone(systemFlags), kw...)
}
