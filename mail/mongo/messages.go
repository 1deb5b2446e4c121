package mongo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxThreadRefs bounds how many References: entries are used for threading.
const maxThreadRefs = 64

// maxUIDRetries bounds how often an insert that hit the unique {mbox, uid}
// index allocates a new UID.
const maxUIDRetries = 8

// msgDoc is a document of "messages": the message's IMAP state, its summary
// and search fields, and the segments that rebuild it (inline bytes and
// GridFS blob hashes) with the opaque MIME tree (Meta).
type msgDoc struct {
	ID      string   `bson:"_id"`
	User    string   `bson:"user"`
	Mbox    string   `bson:"mbox"`
	UID     int64    `bson:"uid"`
	ModSeq  int64    `bson:"modseq"`
	Flags   []string `bson:"flags"`
	IDate   int64    `bson:"idate"`
	Size    int64    `bson:"size"`
	Thread  string   `bson:"thread"`
	Subject string   `bson:"subject"`
	From    string   `bson:"from"`
	Sent    *int64   `bson:"sent"`
	MsgID   string   `bson:"msgid"`
	Refs    []string `bson:"refs"`
	Intro   string   `bson:"intro"`
	Att     bool     `bson:"att"`
	// Sum is the list-ready summary (store.Message.Summary); documents
	// written before it existed have none.
	Sum  []byte         `bson:"sum,omitempty"`
	Segs []blob.Segment `bson:"segs,omitempty"`
	Meta []byte         `bson:"meta,omitempty"`
	// Hdrs ("Key: value" lines) and Text are the search fields.
	Hdrs string `bson:"hdrs,omitempty"`
	Text string `bson:"text,omitempty"`
}

func (d *msgDoc) message() *store.Message {
	m := &store.Message{
		MessageRef: store.MessageRef{ID: d.ID, UID: uint32(d.UID), ModSeq: uint64(d.ModSeq), Flags: d.Flags},
		MailboxID:  d.Mbox, UserID: d.User, InternalDate: fromNano(d.IDate), Size: d.Size, ThreadID: d.Thread,
		Subject: d.Subject, From: d.From, MessageID: d.MsgID, Intro: d.Intro, HasAttachments: d.Att,
		Summary: d.Sum, Segments: d.Segs, Meta: d.Meta,
	}
	if m.Flags == nil {
		m.Flags = []string{}
	}
	if d.Sent != nil {
		m.Date = fromNano(*d.Sent)
	}
	return m
}

func (d *msgDoc) ref() store.MessageRef {
	r := store.MessageRef{ID: d.ID, UID: uint32(d.UID), ModSeq: uint64(d.ModSeq), Flags: d.Flags}
	if r.Flags == nil {
		r.Flags = []string{}
	}
	return r
}

// Projections: refs only; everything but the search fields; everything but
// search fields and data.
var (
	projRefs   = bson.D{{Key: "uid", Value: 1}, {Key: "modseq", Value: 1}, {Key: "flags", Value: 1}}
	projMeta   = bson.D{{Key: "hdrs", Value: 0}, {Key: "text", Value: 0}}
	projNoMeta = bson.D{{Key: "hdrs", Value: 0}, {Key: "text", Value: 0}, {Key: "segs", Value: 0}, {Key: "meta", Value: 0}}
)

// uidFilter renders a non-empty UID set as a filter with the semantics of
// UIDSet.Contains; large sets become their bounding range (callers filter
// with Contains).
func uidFilter(set store.UIDSet) bson.D {
	rng := func(a, b uint32) bson.D {
		if b == 0 {
			return bson.D{{Key: "uid", Value: bson.D{{Key: "$gte", Value: int64(a)}}}}
		}
		return bson.D{{Key: "uid", Value: bson.D{{Key: "$gte", Value: int64(a)}, {Key: "$lte", Value: int64(b)}}}}
	}
	if len(set) == 1 {
		return rng(set[0].Start, set[0].Stop)
	}
	if len(set) > 64 {
		lo, hi, open := uint32(0xFFFFFFFF), uint32(0), false
		for _, r := range set {
			if r.Stop != 0 && r.Start > r.Stop {
				continue
			}
			lo = min(lo, r.Start)
			hi = max(hi, r.Stop)
			open = open || r.Stop == 0
		}
		if open {
			hi = 0
		}
		return rng(lo, hi)
	}
	or := bson.A{}
	for _, r := range set {
		or = append(or, rng(r.Start, r.Stop))
	}
	return bson.D{{Key: "$or", Value: or}}
}

// findMsgs returns the messages of a mailbox with UIDs in set (nil: all),
// ascending UID, restricted by extra and projected by proj.
func (s *Store) findMsgs(ctx context.Context, mailboxID string, set store.UIDSet, extra bson.D, proj bson.D) ([]msgDoc, error) {
	f := bson.D{{Key: "mbox", Value: mailboxID}}
	if set != nil {
		f = append(f, bson.E{Key: "$and", Value: bson.A{uidFilter(set)}})
	}
	f = append(f, extra...)
	opts := options.Find().SetSort(bson.D{{Key: "uid", Value: 1}})
	if proj != nil {
		opts.SetProjection(proj)
	}
	cur, err := s.msgs.Find(ctx, f, opts)
	if err != nil {
		return nil, err
	}
	var ds []msgDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, err
	}
	out := ds[:0]
	for _, d := range ds {
		if set == nil || set.Contains(uint32(d.UID)) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b msgDoc) int { return int(a.UID - b.UID) })
	return out, nil
}

// checkSegments verifies that segs partition exactly size bytes.
func checkSegments(segs []blob.Segment, size int64) error {
	var sum int64
	for i, sg := range segs {
		if sg.Hash != "" && len(sg.Inline) > 0 {
			return fmt.Errorf("segment %d: both inline bytes and hash: %w", i, store.ErrInvalidInput)
		}
		if sg.Hash == "" && int64(len(sg.Inline)) != sg.Size {
			return fmt.Errorf("segment %d: size %d != %d inline bytes: %w", i, sg.Size, len(sg.Inline), store.ErrInvalidInput)
		}
		if sg.Size < 0 {
			return fmt.Errorf("segment %d: negative size: %w", i, store.ErrInvalidInput)
		}
		sum += sg.Size
	}
	if len(segs) > 0 && sum != size || size < 0 {
		return fmt.Errorf("segments hold %d bytes, message size is %d: %w", sum, size, store.ErrInvalidInput)
	}
	return nil
}

// threadRefs returns the message IDs a new message points to (In-Reply-To
// and the newest References), deduplicated.
func threadRefs(m *store.NewMessage) []string {
	out := []string{}
	seenRef := map[string]bool{"": true}
	add := func(r string) {
		r = strings.TrimSpace(r)
		if !seenRef[r] {
			seenRef[r] = true
			out = append(out, r)
		}
	}
	add(m.InReplyTo)
	refs := m.References
	if len(refs) > maxThreadRefs {
		refs = refs[len(refs)-maxThreadRefs:]
	}
	for i := len(refs) - 1; i >= 0; i-- {
		add(refs[i])
	}
	return out
}

// findThread returns the thread of an existing message of the user that the
// new one replies to, that has the same Message-ID, or that refers to the
// new one; else a new thread ID.
func (s *Store) findThread(ctx context.Context, userID, msgID string, refs []string) (string, error) {
	ids := refs
	if msgID != "" {
		ids = append([]string{msgID}, refs...)
	}
	one := func(f bson.D) (string, error) {
		var d struct {
			Thread string `bson:"thread"`
		}
		err := s.msgs.FindOne(ctx, f, options.FindOne().SetProjection(bson.D{{Key: "thread", Value: 1}})).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return "", nil
		}
		return d.Thread, err
	}
	if len(ids) > 0 {
		th, err := one(bson.D{{Key: "user", Value: userID}, {Key: "msgid", Value: bson.D{{Key: "$in", Value: ids}}}})
		if th != "" || err != nil {
			return th, err
		}
	}
	if msgID != "" {
		th, err := one(bson.D{{Key: "user", Value: userID}, {Key: "refs", Value: msgID}})
		if th != "" || err != nil {
			return th, err
		}
	}
	return newID(), nil
}

// headerText renders the header fields for search, one "Key: value" line
// each; summary fields missing from Headers are added.
func headerText(m *store.NewMessage) string {
	var sb strings.Builder
	have := map[string]bool{}
	line := func(k, v string) {
		sb.WriteString(k)
		sb.WriteString(": ")
		sb.WriteString(strings.ReplaceAll(v, "\n", " "))
		sb.WriteByte('\n')
	}
	for _, h := range m.Headers {
		have[strings.ToLower(h.Key)] = true
		line(h.Key, h.Value)
	}
	for _, h := range []store.Header{{Key: "Subject", Value: m.Subject}, {Key: "From", Value: m.From},
		{Key: "To", Value: m.To}, {Key: "Cc", Value: m.Cc}, {Key: "Bcc", Value: m.Bcc},
		{Key: "Message-ID", Value: m.MessageID}} {
		if h.Value != "" && !have[strings.ToLower(h.Key)] {
			line(h.Key, h.Value)
		}
	}
	return sb.String()
}

// allocUIDs reserves n consecutive UIDs and MODSEQs in a mailbox with one
// atomic findOneAndUpdate + $inc (which also moves the counters by the
// given deltas) and returns the first of each.
func (s *Store) allocUIDs(ctx context.Context, mailboxID string, n, total, unseen, size int64) (uint32, uint64, error) {
	var d mboxDoc
	err := s.mboxes.FindOneAndUpdate(ctx, byID(mailboxID),
		bson.D{{Key: "$inc", Value: bson.D{{Key: "uidnext", Value: n}, {Key: "hms", Value: n},
			{Key: "total", Value: total}, {Key: "unseen", Value: unseen}, {Key: "size", Value: size}}}},
		// No projection: FerretDB's findAndModify does not take one.
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return 0, 0, notFound(err, "mailbox "+mailboxID)
	}
	if d.UIDNext-1 > 0xFFFFFFFF {
		return 0, 0, fmt.Errorf("mailbox UID space exhausted: %w", store.ErrOverQuota)
	}
	return uint32(d.UIDNext - n), uint64(d.HMS - n + 1), nil
}

// bumpModSeq allocates the next MODSEQ of a mailbox, moving its counters
// by the given deltas in the same update.
func (s *Store) bumpModSeq(ctx context.Context, mailboxID string, total, unseen, size int64) (uint64, error) {
	var d mboxDoc
	err := s.mboxes.FindOneAndUpdate(ctx, byID(mailboxID),
		bson.D{{Key: "$inc", Value: bson.D{{Key: "hms", Value: 1},
			{Key: "total", Value: total}, {Key: "unseen", Value: unseen}, {Key: "size", Value: size}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return 0, notFound(err, "mailbox "+mailboxID)
	}
	return uint64(d.HMS), nil
}

// chargeQuota adds size to the user's storage, refusing with ErrOverQuota
// when a non-zero limit would be exceeded. The caller holds the user lock,
// so the check and the $inc see no other writer of this user.
func (s *Store) chargeQuota(ctx context.Context, userID string, size int64) error {
	u, err := s.getUser(ctx, userID)
	if err != nil {
		return err
	}
	if u.Quota > 0 && u.Used+size > u.Quota {
		return fmt.Errorf("%d + %d bytes > limit %d: %w", u.Used, size, u.Quota, store.ErrOverQuota)
	}
	return s.incUsed(ctx, userID, size)
}

func (s *Store) incUsed(ctx context.Context, userID string, size int64) error {
	_, err := s.users.UpdateOne(ctx, byID(userID), bson.D{{Key: "$inc", Value: bson.D{{Key: "used", Value: size}}}})
	return err
}

// insertWithUID inserts d with a UID from alloc, allocating again when the
// unique {mbox, uid} index reports a duplicate (another writer without the
// lock, or a crashed one, used it): a duplicate UID is never stored.
func (s *Store) insertWithUID(ctx context.Context, d *msgDoc) error {
	for attempt := 0; ; attempt++ {
		_, err := s.msgs.InsertOne(ctx, d)
		if err == nil {
			return nil
		}
		if !isDup(err) || attempt >= maxUIDRetries {
			return err
		}
		s.log.Warn("mongo: duplicate UID on insert, allocating again", "mailbox", d.Mbox, "uid", d.UID)
		uid, modseq, err := s.allocUIDs(ctx, d.Mbox, 1, 0, 0, 0)
		if err != nil {
			return err
		}
		d.UID, d.ModSeq = int64(uid), int64(modseq)
	}
}

// Append adds a message under the user lock: quota check and charge, blob
// references, UID/MODSEQ and counters in one mailbox update, the message
// document, the journal entry. If a step fails after the counters moved,
// they are moved back.
func (s *Store) Append(ctx context.Context, userID, mailboxID string, m *store.NewMessage) (*store.Message, error) {
	if m == nil {
		return nil, fmt.Errorf("mongo: append: nil message: %w", store.ErrInvalidInput)
	}
	if err := checkSegments(m.Segments, m.Size); err != nil {
		return nil, fmt.Errorf("mongo: append: %w", err)
	}
	flags, err := store.CanonicalFlags(m.Flags)
	if err != nil {
		return nil, fmt.Errorf("mongo: append: %w", err)
	}
	idate := m.InternalDate
	if idate.IsZero() {
		idate = time.Now()
	}
	d := &msgDoc{ID: newID(), User: userID, Mbox: mailboxID, Flags: flags, IDate: idate.UnixNano(), Size: m.Size,
		Subject: m.Subject, From: m.From, MsgID: m.MessageID, Refs: threadRefs(m), Intro: m.Intro, Att: m.HasAttachments,
		Sum: m.Summary, Segs: m.Segments, Meta: m.Meta, Hdrs: headerText(m), Text: m.Text}
	if !m.Date.IsZero() {
		n := m.Date.UnixNano()
		d.Sent = &n
	}
	err = s.withUser(ctx, "append", userID, func(ctx context.Context) error {
		if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
			return err
		}
		if err := s.chargeQuota(ctx, userID, m.Size); err != nil {
			return err
		}
		undo := []func(){func() { _ = s.incUsed(context.WithoutCancel(ctx), userID, -m.Size) }}
		fail := func(err error) error {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			return err
		}
		var err error
		if d.Thread, err = s.findThread(ctx, userID, m.MessageID, d.Refs); err != nil {
			return fail(err)
		}
		if err := s.refBlobs(ctx, [][]blob.Segment{m.Segments}); err != nil {
			return fail(err)
		}
		undo = append(undo, func() { _ = s.unrefBlobs(context.WithoutCancel(ctx), hashCounts(m.Segments)) })
		unseen := int64(1)
		if seen(flags) {
			unseen = 0
		}
		uid, modseq, err := s.allocUIDs(ctx, mailboxID, 1, 1, unseen, m.Size)
		if err != nil {
			return fail(err)
		}
		undo = append(undo, func() {
			_, _ = s.bumpModSeq(context.WithoutCancel(ctx), mailboxID, -1, -unseen, -m.Size)
		})
		d.UID, d.ModSeq = int64(uid), int64(modseq)
		if err := s.insertWithUID(ctx, d); err != nil {
			return fail(err)
		}
		if err := s.addJournal(ctx, userID, store.Change{MailboxID: mailboxID, Kind: store.ChangeExists, ModSeq: uint64(d.ModSeq),
			UID: uint32(d.UID), MessageID: d.ID, Flags: flags}); err != nil {
			// Not acknowledged, so not kept: a retry must not find it twice.
			if _, derr := s.msgs.DeleteOne(context.WithoutCancel(ctx), byID(d.ID)); derr != nil {
				return errors.Join(err, derr)
			}
			return fail(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.message(), nil
}

// ListRefs returns UID, MODSEQ and flags of every message, ascending UID.
func (s *Store) ListRefs(ctx context.Context, userID, mailboxID string) ([]store.MessageRef, error) {
	return s.refsSince(ctx, "list refs", userID, mailboxID, 0)
}

// ChangedSince returns the messages with MODSEQ > modseq, ascending UID.
func (s *Store) ChangedSince(ctx context.Context, userID, mailboxID string, modseq uint64) ([]store.MessageRef, error) {
	return s.refsSince(ctx, "changed since", userID, mailboxID, modseq)
}

func (s *Store) refsSince(ctx context.Context, op, userID, mailboxID string, modseq uint64) ([]store.MessageRef, error) {
	if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	var extra bson.D
	if modseq > 0 {
		extra = bson.D{{Key: "modseq", Value: bson.D{{Key: "$gt", Value: int64(modseq)}}}}
	}
	ds, err := s.findMsgs(ctx, mailboxID, nil, extra, projRefs)
	if err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	out := make([]store.MessageRef, 0, len(ds))
	for i := range ds {
		out = append(out, ds[i].ref())
	}
	return out, nil
}

// Fetch returns the messages with UIDs in set (nil: none), ascending UID.
func (s *Store) Fetch(ctx context.Context, userID, mailboxID string, set store.UIDSet, withMeta bool) ([]store.Message, error) {
	if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
		return nil, fmt.Errorf("mongo: fetch: %w", err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	proj := projNoMeta
	if withMeta {
		proj = projMeta
	}
	ds, err := s.findMsgs(ctx, mailboxID, set, nil, proj)
	if err != nil {
		return nil, fmt.Errorf("mongo: fetch: %w", err)
	}
	var out []store.Message
	for i := range ds {
		out = append(out, *ds[i].message())
	}
	return out, nil
}

var _ store.RefFetcher = (*Store)(nil)

// FetchRefs implements store.RefFetcher: Fetch projected to the refs.
func (s *Store) FetchRefs(ctx context.Context, userID, mailboxID string, set store.UIDSet) ([]store.MessageRef, error) {
	if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
		return nil, fmt.Errorf("mongo: fetch refs: %w", err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	ds, err := s.findMsgs(ctx, mailboxID, set, nil, projRefs)
	if err != nil {
		return nil, fmt.Errorf("mongo: fetch refs: %w", err)
	}
	out := make([]store.MessageRef, 0, len(ds))
	for i := range ds {
		out = append(out, ds[i].ref())
	}
	return out, nil
}

// GetMessage finds a message of the user by ID, with Segments and Meta.
func (s *Store) GetMessage(ctx context.Context, userID, messageID string) (*store.Message, error) {
	var d msgDoc
	err := s.msgs.FindOne(ctx, bson.D{{Key: "_id", Value: messageID}, {Key: "user", Value: userID}},
		options.FindOne().SetProjection(projMeta)).Decode(&d)
	if err != nil {
		return nil, fmt.Errorf("mongo: get message: %w", notFound(err, "message "+messageID))
	}
	return d.message(), nil
}

// OpenMessage streams the raw bytes [off, off+n) of m (n < 0: to the end;
// ranges past the end are clipped). If m has no Segments they are loaded.
func (s *Store) OpenMessage(ctx context.Context, m *store.Message, off, n int64) (io.ReadCloser, error) {
	if m == nil || off < 0 {
		return nil, fmt.Errorf("mongo: open message: bad arguments: %w", store.ErrInvalidInput)
	}
	segs := m.Segments
	if segs == nil && m.Size > 0 {
		f := bson.D{{Key: "_id", Value: m.ID}}
		if m.UserID != "" {
			f = append(f, bson.E{Key: "user", Value: m.UserID})
		}
		var d msgDoc
		if err := s.msgs.FindOne(ctx, f, options.FindOne().SetProjection(bson.D{{Key: "segs", Value: 1}})).Decode(&d); err != nil {
			return nil, fmt.Errorf("mongo: open message: %w", notFound(err, "message "+m.ID))
		}
		segs = d.Segs
	}
	var size int64
	for _, sg := range segs {
		size += sg.Size
	}
	off = min(off, size)
	if n < 0 || n > size-off {
		n = size - off
	}
	return blob.Reader(ctx, s.blobs, segs, off, n), nil
}

// transfer is what Copy and Move both start from.
type transfer struct {
	dst          *mboxDoc
	msgs         []msgDoc
	size, unseen int64
}

func (s *Store) startTransfer(ctx context.Context, userID, srcID string, set store.UIDSet, dstID string, res *store.CopyResult, proj bson.D) (*transfer, error) {
	if _, err := s.getMailbox(ctx, userID, srcID); err != nil {
		return nil, err
	}
	dst, err := s.getMailbox(ctx, userID, dstID)
	if err != nil {
		return nil, err
	}
	res.DstUIDValidity = uint32(dst.UIDV)
	if len(set) == 0 {
		return nil, nil
	}
	ds, err := s.findMsgs(ctx, srcID, set, nil, proj)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	x := &transfer{dst: dst, msgs: ds}
	for _, d := range ds {
		x.size += d.Size
		if !seen(d.Flags) {
			x.unseen++
		}
	}
	return x, nil
}

// Copy copies the messages in set to dst in UID order, with new IDs, UIDs
// and MODSEQs, charging the quota and taking blob references.
func (s *Store) Copy(ctx context.Context, userID, srcMailboxID string, set store.UIDSet, dstMailboxID string) (*store.CopyResult, error) {
	res := &store.CopyResult{}
	err := s.withUser(ctx, "copy", userID, func(ctx context.Context) error {
		x, err := s.startTransfer(ctx, userID, srcMailboxID, set, dstMailboxID, res, nil)
		if x == nil || err != nil {
			return err
		}
		if err := s.chargeQuota(ctx, userID, x.size); err != nil {
			return err
		}
		segs := make([][]blob.Segment, len(x.msgs))
		for i := range x.msgs {
			segs[i] = x.msgs[i].Segs
		}
		if err := s.refBlobs(ctx, segs); err != nil {
			_ = s.incUsed(context.WithoutCancel(ctx), userID, -x.size)
			return err
		}
		n := int64(len(x.msgs))
		uid, modseq, err := s.allocUIDs(ctx, dstMailboxID, n, n, x.unseen, x.size)
		if err != nil {
			return err
		}
		var chs []store.Change
		for i := range x.msgs {
			d := x.msgs[i]
			src := uint32(d.UID)
			d.ID, d.Mbox, d.UID, d.ModSeq = newID(), dstMailboxID, int64(uid)+int64(i), int64(modseq)+int64(i)
			if err := s.insertWithUID(ctx, &d); err != nil {
				return err
			}
			chs = append(chs, store.Change{MailboxID: dstMailboxID, Kind: store.ChangeExists, ModSeq: uint64(d.ModSeq),
				UID: uint32(d.UID), MessageID: d.ID, Flags: d.ref().Flags, SourceMailboxID: srcMailboxID, SourceUID: src})
			res.Pairs = append(res.Pairs, store.UIDPair{Src: src, Dst: uint32(d.UID)})
		}
		return s.addJournalMany(ctx, userID, chs)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Move moves the messages in set to dst: they keep their IDs, get new UIDs
// and MODSEQs in dst (one update each), and the source records one expunge
// MODSEQ for all of them.
func (s *Store) Move(ctx context.Context, userID, srcMailboxID string, set store.UIDSet, dstMailboxID string) (*store.CopyResult, error) {
	res := &store.CopyResult{}
	err := s.withUser(ctx, "move", userID, func(ctx context.Context) error {
		x, err := s.startTransfer(ctx, userID, srcMailboxID, set, dstMailboxID, res, projRefsSize)
		if x == nil || err != nil {
			return err
		}
		n := int64(len(x.msgs))
		uid, modseq, err := s.allocUIDs(ctx, dstMailboxID, n, n, x.unseen, x.size)
		if err != nil {
			return err
		}
		xmod, err := s.bumpModSeq(ctx, srcMailboxID, -n, -x.unseen, -x.size)
		if err != nil {
			return err
		}
		res.ExpungeModSeq = xmod
		var chs, xchs []store.Change
		for i, d := range x.msgs {
			nuid, nmod := int64(uid)+int64(i), int64(modseq)+int64(i)
			if _, err := s.msgs.UpdateOne(ctx, byID(d.ID), bson.D{{Key: "$set", Value: bson.D{
				{Key: "mbox", Value: dstMailboxID}, {Key: "uid", Value: nuid}, {Key: "modseq", Value: nmod}}}}); err != nil {
				return err
			}
			chs = append(chs, store.Change{MailboxID: dstMailboxID, Kind: store.ChangeExists, ModSeq: uint64(nmod),
				UID: uint32(nuid), MessageID: d.ID, Flags: d.ref().Flags, SourceMailboxID: srcMailboxID, SourceUID: uint32(d.UID), Moved: true})
			xchs = append(xchs, store.Change{MailboxID: srcMailboxID, Kind: store.ChangeExpunge, ModSeq: xmod,
				UID: uint32(d.UID), MessageID: d.ID})
			res.Pairs = append(res.Pairs, store.UIDPair{Src: uint32(d.UID), Dst: uint32(nuid)})
		}
		return s.addJournalMany(ctx, userID, append(chs, xchs...))
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

var projRefsSize = bson.D{{Key: "uid", Value: 1}, {Key: "modseq", Value: 1}, {Key: "flags", Value: 1}, {Key: "size", Value: 1}}

// Expunge removes the messages with \Deleted whose UID is in set (nil: all).
func (s *Store) Expunge(ctx context.Context, userID, mailboxID string, set store.UIDSet) (*store.ExpungeResult, error) {
	return s.remove(ctx, "expunge", userID, mailboxID, set, true)
}

// Delete removes the messages in set regardless of flags (nil: none).
func (s *Store) Delete(ctx context.Context, userID, mailboxID string, set store.UIDSet) (*store.ExpungeResult, error) {
	if set == nil {
		set = store.UIDSet{}
	}
	return s.remove(ctx, "delete", userID, mailboxID, set, false)
}

func (s *Store) remove(ctx context.Context, op, userID, mailboxID string, set store.UIDSet, onlyDeleted bool) (*store.ExpungeResult, error) {
	res := &store.ExpungeResult{}
	err := s.withUser(ctx, op, userID, func(ctx context.Context) error {
		if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
			return err
		}
		if set != nil && len(set) == 0 {
			return nil
		}
		all, err := s.findMsgs(ctx, mailboxID, set, nil, bson.D{{Key: "uid", Value: 1}, {Key: "flags", Value: 1}, {Key: "size", Value: 1}, {Key: "segs", Value: 1}})
		if err != nil {
			return err
		}
		ds := all[:0]
		for _, d := range all { // \Deleted is tested here: one code path for every server
			if !onlyDeleted || slices.Contains(d.Flags, store.FlagDeleted) {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			return nil
		}
		var size, unseen int64
		ids := make([]string, 0, len(ds))
		counts := map[string]int64{}
		for _, d := range ds {
			size += d.Size
			if !seen(d.Flags) {
				unseen++
			}
			ids = append(ids, d.ID)
			for h, n := range hashCounts(d.Segs) {
				counts[h] += n
			}
		}
		modseq, err := s.bumpModSeq(ctx, mailboxID, -int64(len(ds)), -unseen, -size)
		if err != nil {
			return err
		}
		if _, err := s.msgs.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			return err
		}
		if err := s.incUsed(ctx, userID, -size); err != nil {
			return err
		}
		if err := s.unrefBlobs(ctx, counts); err != nil {
			return err
		}
		var chs []store.Change
		for _, d := range ds {
			chs = append(chs, store.Change{MailboxID: mailboxID, Kind: store.ChangeExpunge, ModSeq: modseq, UID: uint32(d.UID), MessageID: d.ID})
			res.UIDs = append(res.UIDs, uint32(d.UID))
		}
		res.ModSeq = modseq
		return s.addJournalMany(ctx, userID, chs)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// deleteMessages deletes the messages matching f and releases their blobs
// (counters are the caller's business); the caller holds the user lock.
func (s *Store) deleteMessages(ctx context.Context, f bson.D) error {
	cur, err := s.msgs.Find(ctx, f, options.Find().SetProjection(bson.D{{Key: "segs", Value: 1}}))
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for cur.Next(ctx) {
		var d msgDoc
		if err := cur.Decode(&d); err != nil {
			cur.Close(ctx)
			return err
		}
		for h, n := range hashCounts(d.Segs) {
			counts[h] += n
		}
	}
	cur.Close(ctx)
	if err := cur.Err(); err != nil {
		return err
	}
	if _, err := s.msgs.DeleteMany(ctx, f); err != nil {
		return err
	}
	return s.unrefBlobs(ctx, counts)
}

// FindByMessageID implements store.Store through the {user, msgid} index.
func (s *Store) FindByMessageID(ctx context.Context, userID, mailboxID, messageID string, since time.Time) ([]uint32, error) {
	if messageID == "" {
		return nil, nil
	}
	if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
		return nil, fmt.Errorf("mongo: find by message-id: %w", err)
	}
	f := bson.D{{Key: "user", Value: userID}, {Key: "msgid", Value: messageID}, {Key: "mbox", Value: mailboxID}}
	if !since.IsZero() {
		f = append(f, bson.E{Key: "idate", Value: bson.D{{Key: "$gte", Value: since.UnixNano()}}})
	}
	cur, err := s.msgs.Find(ctx, f,
		options.Find().SetProjection(bson.D{{Key: "uid", Value: 1}}).SetSort(bson.D{{Key: "uid", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongo: find by message-id: %w", err)
	}
	var ds []msgDoc
	if err := cur.All(ctx, &ds); err != nil {
		return nil, fmt.Errorf("mongo: find by message-id: %w", err)
	}
	var out []uint32
	for _, d := range ds {
		out = append(out, uint32(d.UID))
	}
	slices.Sort(out)
	return out, nil
}
