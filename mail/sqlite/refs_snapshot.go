package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/eidermail/eider/mail/store"
)

// Persisted listings (table refs_snapshot, migration 0007). The in-memory
// cache of refs.go is empty after a start, so the first listing of a large
// mailbox read every row of messages_refs. A first listing that reads a
// mailbox of refsCache.snapMin messages or more in full now also writes it
// to refs_snapshot, packed, valid as of the highest_modseq it was read at
// (full reads while the memory cache holds the mailbox, after removals,
// are not written: the snapshot is for starts); a first listing
// reads it and treats it as a cache entry: the messages with a greater
// MODSEQ are merged in, and a merge shorter or longer than total (messages
// were removed) falls back to the full read. The soundness argument is the
// one of the in-memory cache (see refs.go): nothing but the listings writes
// the table, and the write paths need not know about it.

// snapMagic starts every packed listing (format version 1).
const snapMagic = "eider-refs-1\n"

// encodeRefs packs a listing (ascending UID): the magic, the distinct flag
// sets (uvarint length + text), the number of refs, then per ref the UID
// increase over the previous one, the MODSEQ, the index of its flag set
// and its ID (uvarint length + bytes), all uvarints.
func encodeRefs(refs []store.MessageRef) []byte {
	sets := map[string]uint64{}
	var names []string
	keys := make([]uint64, len(refs))
	for i, r := range refs {
		k := joinFlags(r.Flags)
		j, ok := sets[k]
		if !ok {
			j = uint64(len(names))
			sets[k] = j
			names = append(names, k)
		}
		keys[i] = j
	}
	b := make([]byte, 0, len(snapMagic)+16+len(refs)*40)
	b = append(b, snapMagic...)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
	}
	b = binary.AppendUvarint(b, uint64(len(refs)))
	var prev uint32
	for i, r := range refs {
		b = binary.AppendUvarint(b, uint64(r.UID-prev))
		prev = r.UID
		b = binary.AppendUvarint(b, r.ModSeq)
		b = binary.AppendUvarint(b, keys[i])
		b = binary.AppendUvarint(b, uint64(len(r.ID)))
		b = append(b, r.ID...)
	}
	return b
}

// errBadSnapshot reports a packed listing that does not decode.
var errBadSnapshot = errors.New("bad packed listing")

// decodeRefs unpacks encodeRefs. The IDs are substrings of one copy of b.
// Refs with equal flags share one Flags slice.
func decodeRefs(b []byte) ([]store.MessageRef, error) {
	if len(b) < len(snapMagic) || string(b[:len(snapMagic)]) != snapMagic {
		return nil, fmt.Errorf("%w: no magic", errBadSnapshot)
	}
	s := string(b)
	i := len(snapMagic)
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	text := func() (string, bool) {
		n, ok := next()
		if !ok || n > uint64(len(b)-i) {
			return "", false
		}
		t := s[i : i+int(n)]
		i += int(n)
		return t, true
	}
	nsets, ok := next()
	if !ok || nsets > uint64(len(b)) {
		return nil, fmt.Errorf("%w: flag sets", errBadSnapshot)
	}
	flags := make([][]string, nsets)
	for j := range flags {
		t, ok := text()
		if !ok {
			return nil, fmt.Errorf("%w: flag set %d", errBadSnapshot, j)
		}
		flags[j] = splitFlags(t)
	}
	n, ok := next()
	if !ok || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: count", errBadSnapshot)
	}
	out := make([]store.MessageRef, n)
	var uid uint64
	for j := range out {
		du, ok1 := next()
		ms, ok2 := next()
		k, ok3 := next()
		id, ok4 := text()
		uid += du
		if !ok1 || !ok2 || !ok3 || !ok4 || du == 0 || uid > 1<<32-1 || k >= nsets || id == "" {
			return nil, fmt.Errorf("%w: ref %d", errBadSnapshot, j)
		}
		out[j] = store.MessageRef{UID: uint32(uid), ModSeq: ms, ID: id, Flags: flags[k]}
	}
	if i != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the last ref", errBadSnapshot, len(b)-i)
	}
	return out, nil
}

// loadRefsSnapshot returns the persisted listing of a mailbox as a cache
// entry, or nil when there is none for this mailbox (ID and UIDVALIDITY)
// or it does not decode (the caller then reads in full and rewrites it).
func loadRefsSnapshot(ctx context.Context, tx *rtx, mbx int64, mailboxID string, uidValidity int64) (*refsEntry, error) {
	var modseq int64
	var data []byte
	err := tx.QueryRowContext(ctx, `SELECT modseq, data FROM refs_snapshot
		WHERE mbx = ? AND mailbox_id = ? AND uid_validity = ?`, mbx, mailboxID, uidValidity).Scan(&modseq, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read packed listing: %w", err)
	}
	refs, err := decodeRefs(data)
	if err != nil {
		return nil, nil
	}
	return &refsEntry{mailboxID: mailboxID, uidValidity: uidValidity, modseq: modseq, refs: refs}, nil
}

// saveRefsSnapshot persists the full listing e of mailbox mbx, unless a
// newer one of the same mailbox is there or the mailbox is gone. One as
// new (the same MODSEQ: the same listing) is replaced, which repairs a
// packed listing that did not decode.
func (s *Store) saveRefsSnapshot(ctx context.Context, mbx int64, e *refsEntry) error {
	data := encodeRefs(e.refs)
	return s.update(ctx, "save listing", func(t *wtx) error {
		_, err := t.exec(`INSERT INTO refs_snapshot(mbx, mailbox_id, uid_validity, modseq, data)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM mailboxes WHERE mbx = ? AND id = ? AND uid_validity = ?)
			ON CONFLICT(mbx) DO UPDATE SET mailbox_id = excluded.mailbox_id, uid_validity = excluded.uid_validity,
				modseq = excluded.modseq, data = excluded.data
			WHERE excluded.modseq >= refs_snapshot.modseq OR excluded.mailbox_id <> refs_snapshot.mailbox_id
				OR excluded.uid_validity <> refs_snapshot.uid_validity`,
			mbx, e.mailboxID, e.uidValidity, e.modseq, data, mbx, e.mailboxID, e.uidValidity)
		return err
	})
}
