package mongo

import (
	"context"
	"fmt"
	"sort"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxProblems bounds the report of one check.
const maxProblems = 1000

// CheckConsistency verifies the store's invariants and reports every
// violation in Check.Problems:
//   - per mailbox: UIDs unique and in [1, uidnext), MODSEQs in [1, hms],
//     messages owned by the mailbox's user, counters (total, unseen, size)
//     equal to the messages;
//   - per user: used equals the sum of its message sizes;
//   - blobrefs equals the references counted from the segment lists; every
//     referenced blob exists in the blob store with the recorded size; the
//     blob store holds no unreferenced blob.
//
// There is no snapshot across collections: check a quiet store (writes in
// flight show up as problems).
func (s *Store) CheckConsistency(ctx context.Context) (*store.Check, error) {
	c := &store.Check{}
	problem := func(format string, args ...any) {
		if len(c.Problems) < maxProblems {
			c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
		}
	}
	fail := func(err error) (*store.Check, error) { return nil, fmt.Errorf("mongo: check: %w", err) }

	cur, err := s.mboxes.Find(ctx, bson.D{})
	if err != nil {
		return fail(err)
	}
	var mbs []mboxDoc
	if err := cur.All(ctx, &mbs); err != nil {
		return fail(err)
	}
	c.Mailboxes = int64(len(mbs))
	type tally struct{ total, unseen, size int64 }
	byMbox := map[string]*mboxDoc{}
	tallies := map[string]*tally{}
	for i := range mbs {
		byMbox[mbs[i].ID] = &mbs[i]
		tallies[mbs[i].ID] = &tally{}
	}
	used := map[string]int64{}
	counted, sizes := map[string]int64{}, map[string]int64{}
	uids := map[string]map[int64]int{}
	mcur, err := s.msgs.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "user", Value: 1}, {Key: "mbox", Value: 1},
		{Key: "uid", Value: 1}, {Key: "modseq", Value: 1}, {Key: "flags", Value: 1}, {Key: "size", Value: 1}, {Key: "segs", Value: 1}}))
	if err != nil {
		return fail(err)
	}
	for mcur.Next(ctx) {
		var d msgDoc
		if err := mcur.Decode(&d); err != nil {
			mcur.Close(ctx)
			return fail(err)
		}
		c.Messages++
		used[d.User] += d.Size
		for _, sg := range d.Segs {
			if sg.Hash != "" {
				counted[sg.Hash]++
				sizes[sg.Hash] = sg.Size
			}
		}
		if err := checkSegments(d.Segs, d.Size); err != nil {
			problem("message %s: %v", d.ID, err)
		}
		mb := byMbox[d.Mbox]
		if mb == nil {
			problem("message %s: mailbox %s does not exist", d.ID, d.Mbox)
			continue
		}
		if uids[d.Mbox] == nil {
			uids[d.Mbox] = map[int64]int{}
		}
		uids[d.Mbox][d.UID]++
		if d.UID < 1 || d.UID >= mb.UIDNext || d.ModSeq < 1 || d.ModSeq > mb.HMS || d.User != mb.User {
			problem("mailbox %s: message %s: uid %d (uidnext %d), modseq %d (highest %d), same user %v",
				mb.ID, d.ID, d.UID, mb.UIDNext, d.ModSeq, mb.HMS, d.User == mb.User)
		}
		t := tallies[d.Mbox]
		t.total++
		t.size += d.Size
		if !seen(d.Flags) {
			t.unseen++
		}
	}
	mcur.Close(ctx)
	if err := mcur.Err(); err != nil {
		return fail(err)
	}
	for mbID, m := range uids {
		for uid, n := range m {
			if n > 1 {
				problem("mailbox %s: UID %d used by %d messages", mbID, uid, n)
			}
		}
	}
	for _, mb := range mbs {
		t := tallies[mb.ID]
		if t.total != mb.Total || t.unseen != mb.Unseen || t.size != mb.Size {
			problem("mailbox %s %q: counters total=%d unseen=%d size=%d, messages say %d/%d/%d",
				mb.ID, mb.Name, mb.Total, mb.Unseen, mb.Size, t.total, t.unseen, t.size)
		}
	}
	ucur, err := s.users.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "used", Value: 1}}))
	if err != nil {
		return fail(err)
	}
	var us []userDoc
	if err := ucur.All(ctx, &us); err != nil {
		return fail(err)
	}
	for _, u := range us {
		if u.Used != used[u.ID] {
			problem("user %s: storage_used %d, messages sum to %d", u.ID, u.Used, used[u.ID])
		}
	}
	rcur, err := s.refs.Find(ctx, bson.D{})
	if err != nil {
		return fail(err)
	}
	var rs []refDoc
	if err := rcur.All(ctx, &rs); err != nil {
		return fail(err)
	}
	recorded := map[string]int64{}
	for _, r := range rs {
		recorded[r.Hash] = r.Refs
	}
	var hashes []string
	for h := range recorded {
		hashes = append(hashes, h)
	}
	for h := range counted {
		if _, ok := recorded[h]; !ok {
			hashes = append(hashes, h)
		}
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		if recorded[h] != counted[h] {
			problem("blob %s: refcount %d, referenced by %d segments", h, recorded[h], counted[h])
		}
	}
	stored := map[string]int64{}
	if err := s.blobs.List(ctx, func(h string, size int64) error { stored[h] = size; return nil }); err != nil {
		return fail(err)
	}
	c.Blobs = int64(len(stored))
	for h := range counted {
		sz, ok := stored[h]
		if !ok {
			problem("blob %s: referenced by %d segments but missing from the blob store", h, counted[h])
		} else if sz != sizes[h] {
			problem("blob %s: stored size %d, segments say %d", h, sz, sizes[h])
		}
	}
	for h, sz := range stored {
		if counted[h] == 0 {
			problem("blob %s: stored (%d bytes) but not referenced", h, sz)
		}
	}
	return c, nil
}
