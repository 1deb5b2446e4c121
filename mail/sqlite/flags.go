package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/eidermail/eider/mail/store"
)

// System flag bits of messages.sys.
const (
	sysSeen = 1 << iota
	sysAnswered
	sysFlagged
	sysDeleted
	sysDraft
)

var systemFlags = map[string]struct {
	name string
	bit  int64
}{
	`\seen`:     {store.FlagSeen, sysSeen},
	`\answered`: {store.FlagAnswered, sysAnswered},
	`\flagged`:  {store.FlagFlagged, sysFlagged},
	`\deleted`:  {store.FlagDeleted, sysDeleted},
	`\draft`:    {store.FlagDraft, sysDraft},
}

// sysBits returns the system flag bits of a normalized flag list.
func sysBits(fs []string) int64 {
	var b int64
	for _, f := range fs {
		if sf, ok := systemFlags[strings.ToLower(f)]; ok {
			b |= sf.bit
		}
	}
	return b
}

func joinFlags(fs []string) string { return strings.Join(fs, " ") }

func splitFlags(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, " ")
}

// StoreFlags changes flags of the messages in set. All changed messages get
// one new MODSEQ; messages whose flags would not change are untouched;
// messages with MODSEQ > UnchangedSince (when set) are reported in Modified.
func (s *Store) StoreFlags(ctx context.Context, userID, mailboxID string, set store.UIDSet, up store.FlagUpdate) (*store.FlagResult, error) {
	if up.Mode != store.FlagsSet && up.Mode != store.FlagsAdd && up.Mode != store.FlagsRemove {
		return nil, fmt.Errorf("sqlite: store flags: mode %d: %w", up.Mode, store.ErrInvalidInput)
	}
	fl, err := store.CanonicalFlags(up.Flags)
	if err != nil {
		return nil, fmt.Errorf("sqlite: store flags: %w", err)
	}
	res := &store.FlagResult{}
	err = s.groupUpdate(ctx, "store flags", func(t *wtx) error {
		mbx, uno, err := mailboxNo(t.ctx, t, userID, mailboxID)
		if err != nil {
			return err
		}
		if len(set) == 0 {
			return nil
		}
		where, args := uidSetSQL("uid", set)
		rows, err := t.query(`SELECT mno, id, uid, modseq, flags FROM messages WHERE mbx = ? AND (`+where+`) ORDER BY uid`,
			append([]any{mbx}, args...)...)
		if err != nil {
			return err
		}
		type chg struct {
			mno   int64
			ref   store.MessageRef
			old   []string
			flags []string
		}
		var chs []chg
		for rows.Next() {
			var c chg
			var fs string
			var modseq int64
			if err := rows.Scan(&c.mno, &c.ref.ID, &c.ref.UID, &modseq, &fs); err != nil {
				rows.Close()
				return err
			}
			if !set.Contains(c.ref.UID) {
				continue
			}
			c.ref.ModSeq = uint64(modseq)
			if up.UnchangedSince != 0 && c.ref.ModSeq > up.UnchangedSince {
				res.Modified = append(res.Modified, c.ref.UID)
				continue
			}
			c.old = splitFlags(fs)
			var changed bool
			c.flags, changed = store.ApplyFlags(c.old, up.Mode, fl)
			if changed {
				chs = append(chs, c)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(chs) == 0 {
			return nil
		}
		modseq, err := bumpModSeq(t, mbx)
		if err != nil {
			return err
		}
		var unseenDelta int64
		for _, c := range chs {
			oldSeen, newSeen := sysBits(c.old)&sysSeen != 0, sysBits(c.flags)&sysSeen != 0
			if oldSeen && !newSeen {
				unseenDelta++
			} else if !oldSeen && newSeen {
				unseenDelta--
			}
			if _, err := t.exec(`UPDATE messages SET flags = ?, sys = ?, modseq = ? WHERE mno = ?`,
				joinFlags(c.flags), sysBits(c.flags), int64(modseq), c.mno); err != nil {
				return err
			}
			if err := journal(t, uno, store.Change{MailboxID: mailboxID, Kind: store.ChangeFlags, ModSeq: modseq,
				UID: c.ref.UID, MessageID: c.ref.ID, Flags: c.flags}); err != nil {
				return err
			}
			c.ref.ModSeq, c.ref.Flags = modseq, c.flags
			res.Updated = append(res.Updated, c.ref)
		}
		if unseenDelta != 0 {
			if _, err := t.exec(`UPDATE mailboxes SET unseen = unseen + ? WHERE mbx = ?`, unseenDelta, mbx); err != nil {
				return err
			}
		}
		res.ModSeq = modseq
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// bumpModSeq allocates the next MODSEQ of a mailbox.
func bumpModSeq(t *wtx, mbx int64) (uint64, error) {
	var m int64
	if err := t.row(`UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE mbx = ? RETURNING highest_modseq`, mbx).Scan(&m); err != nil {
		return 0, err
	}
	return uint64(m), nil
}

// uidSetSQL renders a non-empty UID set as a condition on col with the
// semantics of UIDSet.Contains. Large sets are rendered as their bounding
// range; callers filter rows with set.Contains.
func uidSetSQL(col string, set store.UIDSet) (string, []any) {
	if len(set) > 64 {
		lo, hi := uint32(0xFFFFFFFF), uint32(0)
		open := false
		for _, r := range set {
			a, b := r.Start, r.Stop
			if b != 0 && a > b {
				continue // empty, as in UIDSet.Contains
			}
			lo = min(lo, a)
			if b == 0 {
				open = true
			}
			hi = max(hi, b)
		}
		if open {
			return col + " >= ?", []any{lo}
		}
		return col + " BETWEEN ? AND ?", []any{lo, hi}
	}
	var sb strings.Builder
	var args []any
	for i, r := range set {
		if i > 0 {
			sb.WriteString(" OR ")
		}
		a, b := r.Start, r.Stop // a > b matches nothing, as in UIDSet.Contains
		if b == 0 {
			sb.WriteString(col + " >= ?")
			args = append(args, a)
		} else {
			sb.WriteString(col + " BETWEEN ? AND ?")
			args = append(args, a, b)
		}
	}
	return sb.String(), args
}
