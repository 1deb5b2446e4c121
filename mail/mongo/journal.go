package mongo

import (
	"context"
	"fmt"
	"time"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// journalDoc is a document of "journal". _id is the Seq: global, from the
// "journal" counter, so it orders all users' entries; a user's entries are
// inserted under its lock, hence in Seq order.
type journalDoc struct {
	Seq     int64    `bson:"_id"`
	User    string   `bson:"user"`
	Mbox    string   `bson:"mbox"`
	Kind    string   `bson:"kind"`
	ModSeq  int64    `bson:"modseq"`
	UID     int64    `bson:"uid"`
	Msg     string   `bson:"msg"`
	Flags   []string `bson:"flags"`
	Name    string   `bson:"name"`
	OldName string   `bson:"old"`
	Time    int64    `bson:"time"`
	// Source of a copied or moved message (ChangeExists); absent otherwise.
	SrcMbox string `bson:"smbox,omitempty"`
	SrcUID  int64  `bson:"suid,omitempty"`
	Moved   bool   `bson:"moved,omitempty"`
	// Expires is when the entry may go: MongoDB's TTL index "expire"
	// (migration 0002) deletes it then; on FerretDB PruneJournal does.
	Expires bson.DateTime `bson:"exp"`
}

// addJournal appends one entry; the caller holds the user lock.
func (s *Store) addJournal(ctx context.Context, userID string, c store.Change) error {
	return s.addJournalMany(ctx, userID, []store.Change{c})
}

// addJournalMany appends entries with consecutive Seqs (one counter update
// for all), under counterLock; a duplicate Seq (the unique _id) allocates
// again in any case.
func (s *Store) addJournalMany(ctx context.Context, userID string, cs []store.Change) error {
	if len(cs) == 0 {
		return nil
	}
	for attempt := 0; ; attempt++ {
		last, err := s.allocSeq(ctx, int64(len(cs)))
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		now := nowNano()
		exp := bson.NewDateTimeFromTime(fromNano(now).Add(s.retention))
		docs := make([]any, len(cs))
		for i, c := range cs {
			flags := c.Flags
			if flags == nil && (c.Kind == store.ChangeFlags || c.Kind == store.ChangeExists) {
				flags = []string{}
			}
			docs[i] = &journalDoc{Seq: last - int64(len(cs)) + 1 + int64(i), User: userID, Mbox: c.MailboxID, Kind: string(c.Kind),
				ModSeq: int64(c.ModSeq), UID: int64(c.UID), Msg: c.MessageID, Flags: flags, Name: c.Name, OldName: c.OldName, Time: now,
				SrcMbox: c.SourceMailboxID, SrcUID: int64(c.SourceUID), Moved: c.Moved, Expires: exp}
		}
		_, err = s.journal.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
		if err == nil {
			// The user's newest Seq, kept beside the entries so that it
			// outlives them (LastChange); $max: it only moves forward.
			_, err = s.users.UpdateOne(ctx, byID(userID), bson.D{{Key: "$max", Value: bson.D{{Key: "lastseq", Value: last}}}})
			if err != nil {
				return fmt.Errorf("journal: last seq: %w", err)
			}
			return nil
		}
		if !isDup(err) || attempt >= 10 {
			return fmt.Errorf("journal: %w", err)
		}
		// Some Seqs were taken: drop what this attempt inserted and retry.
		ids := make([]int64, len(cs))
		for i := range docs {
			ids[i] = docs[i].(*journalDoc).Seq
		}
		if _, err := s.journal.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "user", Value: userID}}); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
}

// allocSeq reserves n journal Seqs and returns the last.
func (s *Store) allocSeq(ctx context.Context, n int64) (int64, error) {
	unlock, err := s.counterLock(ctx, "journal")
	if err != nil {
		return 0, err
	}
	defer unlock()
	return s.nextCounter(ctx, "journal", n)
}

// Changes returns the user's journal entries with Seq > afterSeq in Seq
// order (limit <= 0: no limit).
func (s *Store) Changes(ctx context.Context, userID, mailboxID string, afterSeq int64, limit int) ([]store.Change, error) {
	if _, err := s.getUser(ctx, userID); err != nil {
		return nil, fmt.Errorf("mongo: changes: %w", err)
	}
	f := bson.D{{Key: "user", Value: userID}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: afterSeq}}}}
	if mailboxID != "" {
		f = append(f, bson.E{Key: "mbox", Value: mailboxID})
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.journal.Find(ctx, f, opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: changes: %w", err)
	}
	var ds []journalDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: changes: %w", err)
	}
	out := make([]store.Change, 0, len(ds))
	for _, d := range ds {
		c := store.Change{Seq: d.Seq, UserID: userID, MailboxID: d.Mbox, Kind: store.ChangeKind(d.Kind), ModSeq: uint64(d.ModSeq),
			UID: uint32(d.UID), MessageID: d.Msg, Flags: d.Flags, Name: d.Name, OldName: d.OldName, Time: fromNano(d.Time),
			SourceMailboxID: d.SrcMbox, SourceUID: uint32(d.SrcUID), Moved: d.Moved}
		if c.Flags == nil && (c.Kind == store.ChangeFlags || c.Kind == store.ChangeExists) {
			c.Flags = []string{}
		}
		out = append(out, c)
	}
	return out, nil
}

// LastChange returns the user's highest journal Seq, 0 if none. It is
// the user document's lastseq, which outlives expired entries; a user
// written before lastseq existed has it from the journal.
func (s *Store) LastChange(ctx context.Context, userID string) (int64, error) {
	u, err := s.getUser(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("mongo: last change: %w", err)
	}
	if u.LastSeq > 0 {
		return u.LastSeq, nil
	}
	var d journalDoc
	err = s.journal.FindOne(ctx, bson.D{{Key: "user", Value: userID}},
		options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}}).SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&d)
	if err != nil {
		if err := notFound(err, ""); isNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("mongo: last change: %w", err)
	}
	return d.Seq, nil
}

// PruneJournal deletes every entry older than olderThan. Nothing needs a
// surviving entry: LastChange reads the user document, and a reader whose
// cursor names a deleted entry is told to reset (server/updates.go). On
// MongoDB the TTL index on exp already does this; on FerretDB, which has
// no TTL index, `eider serve` calls it hourly.
func (s *Store) PruneJournal(ctx context.Context, olderThan time.Duration) (int64, error) {
	cutoff := time.Now().Add(-olderThan).UnixNano()
	r, err := s.journal.DeleteMany(ctx, bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("mongo: prune journal: %w", err)
	}
	return r.DeletedCount, nil
}
