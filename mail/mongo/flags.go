package mongo

import (
	"context"
	"fmt"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// StoreFlags changes flags of the messages in set (RFC 3501 §6.4.6, RFC 7162
// UNCHANGEDSINCE). All changed messages get one new MODSEQ; each message is
// changed with one single-document update; messages whose flags would not
// change are untouched; messages with MODSEQ > UnchangedSince (when set) are
// reported in Modified.
func (s *Store) StoreFlags(ctx context.Context, userID, mailboxID string, set store.UIDSet, up store.FlagUpdate) (*store.FlagResult, error) {
	if up.Mode != store.FlagsSet && up.Mode != store.FlagsAdd && up.Mode != store.FlagsRemove {
		return nil, fmt.Errorf("mongo: store flags: mode %d: %w", up.Mode, store.ErrInvalidInput)
	}
	fl, err := store.CanonicalFlags(up.Flags)
	if err != nil {
		return nil, fmt.Errorf("mongo: store flags: %w", err)
	}
	res := &store.FlagResult{}
	err = s.withUser(ctx, "store flags", userID, func(ctx context.Context) error {
		if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
			return err
		}
		if len(set) == 0 {
			return nil
		}
		ds, err := s.findMsgs(ctx, mailboxID, set, nil, projRefs)
		if err != nil {
			return err
		}
		type chg struct {
			ref   store.MessageRef
			flags []string
		}
		var chs []chg
		var unseenDelta int64
		for _, d := range ds {
			ref := d.ref()
			if up.UnchangedSince != 0 && ref.ModSeq > up.UnchangedSince {
				res.Modified = append(res.Modified, ref.UID)
				continue
			}
			next, changed := store.ApplyFlags(ref.Flags, up.Mode, fl)
			if !changed {
				continue
			}
			if was, is := seen(ref.Flags), seen(next); was && !is {
				unseenDelta++
			} else if !was && is {
				unseenDelta--
			}
			chs = append(chs, chg{ref, next})
		}
		if len(chs) == 0 {
			return nil
		}
		modseq, err := s.bumpModSeq(ctx, mailboxID, 0, unseenDelta, 0)
		if err != nil {
			return err
		}
		var jcs []store.Change
		for _, c := range chs {
			if _, err := s.msgs.UpdateOne(ctx, byID(c.ref.ID), bson.D{{Key: "$set", Value: bson.D{
				{Key: "flags", Value: c.flags}, {Key: "modseq", Value: int64(modseq)}}}}); err != nil {
				return err
			}
			jcs = append(jcs, store.Change{MailboxID: mailboxID, Kind: store.ChangeFlags, ModSeq: modseq,
				UID: c.ref.UID, MessageID: c.ref.ID, Flags: c.flags})
			c.ref.ModSeq, c.ref.Flags = modseq, c.flags
			res.Updated = append(res.Updated, c.ref)
		}
		res.ModSeq = modseq
		return s.addJournalMany(ctx, userID, jcs)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
