package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// maxThreadRefs bounds how many References: entries are used for threading.
const maxThreadRefs = 64

// Append adds a message in one write transaction: quota check, UID and
// MODSEQ allocation, message rows, its text (fts_text) queued for the
// full-text indexer (fts_pending, see indexer.go), blob references,
// counters, storage_used and the journal entry. The blobs of the message
// are released (blob.Releaser) after the transaction ends, successfully or
// not; a failed Append leaves its freshly written blobs unreferenced (see
// SweepOrphanBlobs).
func (s *Store) Append(ctx context.Context, userID, mailboxID string, m *store.NewMessage) (*store.Message, error) {
	if m == nil {
		return nil, fmt.Errorf("sqlite: append: nil message: %w", store.ErrInvalidInput)
	}
	if rel, ok := s.blobs.(blob.Releaser); ok {
		if hs := blobHashes(m.Segments); len(hs) > 0 {
			defer rel.Release(hs...)
		}
	}
	msg, err := prepareAppend(userID, mailboxID, m)
	if err != nil {
		return nil, fmt.Errorf("sqlite: append: %w", err)
	}
	// Clean the text here, in the caller's goroutine: the writer lock is
	// the bottleneck of concurrent appends. The words are split later, by
	// the background indexer (indexer.go).
	doc := newFTSDoc(m)
	if err := s.groupAppend(ctx, msg, m, doc); err != nil {
		return nil, err
	}
	return msg, nil
}

// appendReq is one write waiting for a group commit: an Append (msg, m,
// doc) or, when fn is set, another write (StoreFlags, Expunge, Delete) run
// by fn inside its own SAVEPOINT.
type appendReq struct {
	ctx  context.Context
	msg  *store.Message
	m    *store.NewMessage
	doc  *ftsDoc
	op   string             // operation name for errors; "append" for appends
	fn   func(t *wtx) error // nil for an append
	done chan error         // buffered, receives exactly one result
	lead chan struct{}      // buffered; receives when this caller must lead (enqueue)
}

// maxGroup bounds how many writes share one transaction.
const maxGroup = 128

// groupAppend commits msg together with the writes queued concurrently
// (group commit): the leading caller (see enqueue) runs every queued write
// in one transaction and commits once — one fsync and one
// full-text index flush for the group. A refused append (over quota, a
// vanished mailbox) is refused by appendCheck before it writes, so it fails
// alone. Every caller returns only after the commit that holds its write,
// so an acknowledged append is durable exactly as with a transaction of its
// own.
func (s *Store) groupAppend(ctx context.Context, msg *store.Message, m *store.NewMessage, doc *ftsDoc) error {
	return s.enqueue(&appendReq{ctx: ctx, msg: msg, m: m, doc: doc, op: "append", done: make(chan error, 1)})
}

// groupUpdate is update through the group commit: fn runs inside a
// SAVEPOINT of a transaction shared with the writes queued concurrently, so
// an error of fn rolls back fn's writes only and fails this caller alone.
// The caller returns after the commit holding its writes. Writes of one
// group run in queue order on the single writer, so MODSEQs allocated by
// bumpModSeq stay strictly increasing per mailbox and journal entries keep
// commit order. On an error of fn the caller returns the error and no
// result, so whatever fn had filled in is discarded.
func (s *Store) groupUpdate(ctx context.Context, op string, fn func(t *wtx) error) error {
	if s.soloWrites {
		return s.update(ctx, op, fn)
	}
	return s.enqueue(&appendReq{ctx: ctx, op: op, fn: fn, done: make(chan error, 1)})
}

// enqueue queues req and returns its result once a group holding it ended.
//
// At most one caller leads at a time (Store.leading, guarded by qmu): the
// leader takes the writer lock and runs the queued writes as groups until
// its own write is done, then hands the lead to the oldest queued write, if
// any. The other callers wait on their done channel, so they all wake when
// the commit holding their write ends, and the next leader takes every
// write queued meanwhile.
func (s *Store) enqueue(req *appendReq) error {
	req.lead = make(chan struct{}, 1)
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	lead := !s.leading
	s.leading = true
	s.qmu.Unlock()
	if !lead {
		select {
		case err := <-req.done: // a leader committed (or failed) our write
			return err
		case <-req.lead: // we are still queued and now lead
		}
	}
	for {
		s.wmu.Lock()
		s.qmu.Lock()
		batch := s.queue
		if len(batch) > maxGroup {
			batch = batch[:maxGroup]
		}
		s.queue = s.queue[len(batch):]
		s.qmu.Unlock()
		if len(batch) > 0 {
			s.runGroup(batch)
		}
		s.wmu.Unlock()
		select {
		case err := <-req.done:
			s.qmu.Lock()
			if len(s.queue) > 0 {
				s.queue[0].lead <- struct{}{} // buffered: never blocks
			} else {
				s.leading = false
			}
			s.qmu.Unlock()
			return err
		default: // our write was beyond maxGroup: run the next group
		}
	}
}

// runGroup runs a batch of writes in one transaction; wmu is held. Blobs
// whose last reference the group dropped are deleted after the commit,
// still under wmu (as in update).
func (s *Store) runGroup(batch []*appendReq) {
	// Flag changes and expunges need no fsync; appends do. When both are
	// queued, the changes commit first in their own transaction, so that
	// they are not held back by the appends' fsync. The writes of one
	// batch come from different callers (each waits for its own), so
	// they have no order among themselves to keep.
	var changes, appends []*appendReq
	for _, r := range batch {
		if r.fn != nil {
			changes = append(changes, r)
		} else {
			appends = append(appends, r)
		}
	}
	if len(changes) > 0 && len(appends) > 0 {
		s.runGroup(changes)
		s.runGroup(appends)
		return
	}
	errs := make([]error, len(batch))
	fail := func(what string, err error) {
		for i, r := range batch {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sqlite: %s: %s%w", r.op, what, err)
			}
			r.done <- errs[i]
		}
	}
	// The transaction outlives any one caller's cancellation; each write
	// checks its own context before it runs.
	ctx := context.WithoutCancel(batch[0].ctx)
	defer s.learnStmts(ctx)
	// Only groups that acknowledge appends need their commit fsynced
	// (setSync).
	durable := false
	for _, r := range batch {
		durable = durable || r.fn == nil
	}
	if err := s.setSync(ctx, durable); err != nil {
		fail("", err)
		return
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fail("begin: ", err)
		return
	}
	t := &wtx{Tx: tx, s: s, ctx: ctx}
	ok := 0
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("sqlite: %s: %w", r.op, err)
			continue
		}
		if r.fn != nil {
			if err := runSavepoint(t, r.fn); err != nil {
				if errors.Is(err, errGroupBroken) {
					tx.Rollback()
					fail("", err)
					return
				}
				errs[i] = fmt.Errorf("sqlite: %s: %w", r.op, err)
				continue
			}
			ok++
			continue
		}
		// No SAVEPOINT per append: refusals come from appendCheck before
		// any write; an error while writing fails the whole group (its
		// callers see a temporary error).
		mbx, uno, err := appendCheck(t, r.msg.UserID, r.msg.MailboxID, r.m.Size)
		if err != nil {
			errs[i] = fmt.Errorf("sqlite: append: %w", err)
			continue
		}
		if err := appendWrite(t, r.msg, r.m, r.doc, mbx, uno); err != nil {
			tx.Rollback()
			fail("", err)
			return
		}
		ok++
	}
	if ok == 0 {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		fail("commit: ", err)
		return
	} else {
		s.groups.Add(1)
		s.ix.kick() // new messages may wait for the indexer
		s.ck.kick()
	}
	for _, h := range t.drop {
		_ = s.blobs.Delete(ctx, h)
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// errGroupBroken reports that a savepoint could not be rolled back, so
// the group's transaction is in an unknown state and must be abandoned.
var errGroupBroken = errors.New("savepoint rollback failed")

// runSavepoint runs fn inside SAVEPOINT w; on an error of fn every write of
// fn, and the blob hashes it queued for deletion, are undone.
func runSavepoint(t *wtx, fn func(t *wtx) error) error {
	if _, err := t.exec(`SAVEPOINT w`); err != nil {
		return fmt.Errorf("savepoint: %w: %w", errGroupBroken, err)
	}
	nDrop := len(t.drop)
	if err := fn(t); err != nil {
		t.drop = t.drop[:nDrop]
		if _, rerr := t.exec(`ROLLBACK TO w`); rerr != nil {
			return fmt.Errorf("%w: %w (after %w)", errGroupBroken, rerr, err)
		}
		if _, rerr := t.exec(`RELEASE w`); rerr != nil {
			return fmt.Errorf("%w: %w (after %w)", errGroupBroken, rerr, err)
		}
		return err
	}
	if _, err := t.exec(`RELEASE w`); err != nil {
		return fmt.Errorf("release savepoint: %w: %w", errGroupBroken, err)
	}
	return nil
}

// prepareAppend validates m and builds the Message that appendTx completes.
func prepareAppend(userID, mailboxID string, m *store.NewMessage) (*store.Message, error) {
	if err := checkSegments(m.Segments, m.Size); err != nil {
		return nil, err
	}
	flags, err := store.CanonicalFlags(m.Flags)
	if err != nil {
		return nil, err
	}
	idate := m.InternalDate
	if idate.IsZero() {
		idate = time.Now()
	}
	msg := &store.Message{
		MessageRef:     store.MessageRef{ID: newID(), Flags: flags},
		MailboxID:      mailboxID,
		UserID:         userID,
		InternalDate:   idate.UTC(),
		Size:           m.Size,
		Subject:        m.Subject,
		From:           m.From,
		Date:           m.Date,
		MessageID:      m.MessageID,
		Intro:          m.Intro,
		HasAttachments: m.HasAttachments,
		Segments:       m.Segments,
		Meta:           m.Meta,
		Summary:        m.Summary,
	}
	if !m.Date.IsZero() {
		msg.Date = m.Date.UTC()
	}
	return msg, nil
}

// appendTx is the transaction body of Append: msg (from prepareAppend) gets
// its UID, MODSEQ and ThreadID.
func appendTx(t *wtx, msg *store.Message, m *store.NewMessage) error {
	userID, mailboxID := msg.UserID, msg.MailboxID
	mbx, uno, err := appendCheck(t, userID, mailboxID, m.Size)
	if err != nil {
		return err
	}
	return appendWrite(t, msg, m, newFTSDoc(m), mbx, uno)
}

// ftsDoc is a message's full-text row: its header and body text, cleaned
// (see cleanText) so that SQLite and the Go word splitter read the same
// code points.
type ftsDoc struct {
	headers, body string
}

// newFTSDoc builds the full-text row of m. It reads no database state, so
// Append runs it before taking the writer lock.
func newFTSDoc(m *store.NewMessage) *ftsDoc {
	return &ftsDoc{headers: cleanText(headerText(m)), body: cleanText(m.Text)}
}

// appendCheck does the checks of an append that may refuse it — the
// mailbox exists and belongs to the user, the quota has room — without
// writing anything, so a refused append in a group commit needs no undo.
func appendCheck(t *wtx, userID, mailboxID string, size int64) (mbx, uno int64, err error) {
	// One statement: the mailbox, its owner and the owner's quota.
	var limit, used int64
	err = t.row(`SELECT m.mbx, m.uno, u.quota_limit, u.storage_used FROM mailboxes m JOIN users u ON u.uno = m.uno
		WHERE m.id = ? AND u.id = ?`, mailboxID, userID).Scan(&mbx, &uno, &limit, &used)
	if err != nil {
		return 0, 0, notFound(err, "mailbox "+mailboxID)
	}
	if limit > 0 && used+size > limit {
		return 0, 0, fmt.Errorf("%d + %d bytes > limit %d: %w", used, size, limit, store.ErrOverQuota)
	}
	return mbx, uno, nil
}

// appendWrite writes an append that appendCheck accepted. Any error from
// it leaves the transaction with partial writes: the caller rolls back.
func appendWrite(t *wtx, msg *store.Message, m *store.NewMessage, doc *ftsDoc, mbx, uno int64) error {
	flags := msg.Flags
	segs := encodeSegments(m.Segments)
	refs := threadRefs(m)
	sys := sysBits(flags)
	if _, err := t.exec(`UPDATE users SET storage_used = storage_used + ? WHERE uno = ?`, m.Size, uno); err != nil {
		return err
	}
	var err error
	msg.ThreadID, err = findThread(t, uno, m.MessageID, refs)
	if err != nil {
		return err
	}
	// UID and MODSEQ allocation (as allocUIDs) and the counters in one
	// statement.
	var next, hms int64
	if err := t.row(`UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1,
		total = total + 1, unseen = unseen + ?, size = size + ? WHERE mbx = ? RETURNING uid_next, highest_modseq`,
		b2i(sys&sysSeen == 0), m.Size, mbx).Scan(&next, &hms); err != nil {
		return err
	}
	if next-1 > 0xFFFFFFFF {
		return fmt.Errorf("mailbox UID space exhausted: %w", store.ErrOverQuota)
	}
	uid, modseq := uint32(next-1), uint64(hms)
	msg.UID, msg.ModSeq = uid, modseq
	var sent any
	if !m.Date.IsZero() {
		sent = m.Date.UnixNano()
	}
	res, err := t.exec(`INSERT INTO messages(id, uno, mbx, uid, modseq, sys, flags, internal_date, size, thread_id,
		subject, from_addr, sent_date, message_id, intro, has_attachments, summary)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		msg.ID, uno, mbx, uid, int64(modseq), sys, joinFlags(flags), msg.InternalDate.UnixNano(), m.Size, msg.ThreadID,
		m.Subject, m.From, sent, m.MessageID, m.Intro, b2i(m.HasAttachments), m.Summary)
	if err != nil {
		return err
	}
	mno, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO message_data(mno, segments, meta) VALUES (?, ?, ?)`, mno, segs, m.Meta); err != nil {
		return err
	}
	// Indexed later, off the delivery path (indexer.go); Search scans the
	// queued text meanwhile.
	if _, err := t.exec(`INSERT INTO fts_text(mno, headers, body) VALUES (?, ?, ?)`, mno, doc.headers, doc.body); err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO fts_pending(mno) VALUES (?)`, mno); err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := t.exec(`INSERT INTO message_refs(mno, uno, ref) VALUES (?, ?, ?)`, mno, uno, r); err != nil {
			return err
		}
	}
	if err := refBlobs(t, m.Segments); err != nil {
		return err
	}
	return journal(t, uno, store.Change{MailboxID: msg.MailboxID, Kind: store.ChangeExists, ModSeq: modseq,
		UID: uid, MessageID: msg.ID, Flags: flags})
}

// chargeQuota adds size to the user's storage_used, refusing with
// ErrOverQuota when a non-zero limit would be exceeded.
func chargeQuota(t *wtx, uno, size int64) error {
	var limit, used int64
	if err := t.row(`SELECT quota_limit, storage_used FROM users WHERE uno = ?`, uno).Scan(&limit, &used); err != nil {
		return notFound(err, "user")
	}
	if limit > 0 && used+size > limit {
		return fmt.Errorf("%d + %d bytes > limit %d: %w", used, size, limit, store.ErrOverQuota)
	}
	_, err := t.exec(`UPDATE users SET storage_used = storage_used + ? WHERE uno = ?`, size, uno)
	return err
}

// allocUIDs reserves n consecutive UIDs and MODSEQs in a mailbox and returns
// the first of each.
func allocUIDs(t *wtx, mbx int64, n int) (uint32, uint64, error) {
	var next, hms int64
	if err := t.row(`UPDATE mailboxes SET uid_next = uid_next + ?, highest_modseq = highest_modseq + ?
		WHERE mbx = ? RETURNING uid_next, highest_modseq`, n, n, mbx).Scan(&next, &hms); err != nil {
		return 0, 0, err
	}
	if next-1 > 0xFFFFFFFF {
		return 0, 0, fmt.Errorf("mailbox UID space exhausted: %w", store.ErrOverQuota)
	}
	return uint32(next - int64(n)), uint64(hms - int64(n) + 1), nil
}

// threadRefs returns the message IDs a new message points to (In-Reply-To
// and the newest References), deduplicated.
func threadRefs(m *store.NewMessage) []string {
	var out []string
	seen := map[string]bool{"": true}
	add := func(r string) {
		r = strings.TrimSpace(r)
		if !seen[r] {
			seen[r] = true
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
func findThread(t *wtx, uno int64, msgID string, refs []string) (string, error) {
	ids := refs
	if msgID != "" {
		ids = append([]string{msgID}, refs...)
	}
	if len(ids) > 0 {
		q := `SELECT thread_id FROM messages WHERE uno = ? AND message_id <> '' AND message_id IN (?` + strings.Repeat(",?", len(ids)-1) + `) LIMIT 1`
		args := []any{uno}
		for _, id := range ids {
			args = append(args, id)
		}
		var th string
		err := t.row(q, args...).Scan(&th)
		if err == nil {
			return th, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	if msgID != "" {
		var th string
		err := t.row(`SELECT m.thread_id FROM message_refs r JOIN messages m ON m.mno = r.mno
			WHERE r.uno = ? AND r.ref = ? LIMIT 1`, uno, msgID).Scan(&th)
		if err == nil {
			return th, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	return newID(), nil
}

// headerText renders the header fields for the full-text index, one
// "Key: value" line each. Summary fields missing from Headers are added.
func headerText(m *store.NewMessage) string {
	var sb strings.Builder
	have := map[string]bool{}
	for _, h := range m.Headers {
		have[strings.ToLower(h.Key)] = true
		sb.WriteString(h.Key)
		sb.WriteString(": ")
		sb.WriteString(strings.ReplaceAll(h.Value, "\n", " "))
		sb.WriteByte('\n')
	}
	for _, h := range []store.Header{{Key: "Subject", Value: m.Subject}, {Key: "From", Value: m.From},
		{Key: "To", Value: m.To}, {Key: "Cc", Value: m.Cc}, {Key: "Bcc", Value: m.Bcc},
		{Key: "Message-ID", Value: m.MessageID}} {
		if h.Value != "" && !have[strings.ToLower(h.Key)] {
			sb.WriteString(h.Key)
			sb.WriteString(": ")
			sb.WriteString(strings.ReplaceAll(h.Value, "\n", " "))
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// ChangedSince returns the messages with MODSEQ > modseq, ascending UID.
func (s *Store) ChangedSince(ctx context.Context, userID, mailboxID string, modseq uint64) ([]store.MessageRef, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changed since: %w", err)
	}
	refs, err := queryRefs(ctx, s.r, mbx, modseq)
	if err != nil {
		return nil, fmt.Errorf("sqlite: changed since: %w", err)
	}
	return refs, nil
}

// msgCols are the columns of a message row that scanMessage reads, all
// from the messages table (the summary last, as in the table).
const msgCols = `m.mno, m.id, m.uid, m.modseq, m.flags, m.internal_date, m.size, m.thread_id,
	m.subject, m.from_addr, m.sent_date, m.message_id, m.intro, m.has_attachments, m.summary`

// scanMessage scans a row of msgCols, then, with withMailbox, the
// mailbox ID and, with withData, segments and meta. Without withMailbox
// the caller fills in MailboxID; UserID is always the caller's.
func scanMessage(sc interface{ Scan(...any) error }, withMailbox, withData bool) (int64, *store.Message, error) {
	m := &store.Message{}
	var mno, modseq, idate int64
	var sent sql.NullInt64
	var flags string
	var att int
	dst := make([]any, 0, 18)
	dst = append(dst, &mno, &m.ID, &m.UID, &modseq, &flags, &idate, &m.Size, &m.ThreadID,
		&m.Subject, &m.From, &sent, &m.MessageID, &m.Intro, &att, &m.Summary)
	if withMailbox {
		dst = append(dst, &m.MailboxID)
	}
	var segs []byte
	if withData {
		dst = append(dst, &segs, &m.Meta)
	}
	if err := sc.Scan(dst...); err != nil {
		return 0, nil, err
	}
	m.ModSeq, m.Flags, m.InternalDate, m.HasAttachments = uint64(modseq), splitFlags(flags), fromNano(idate), att != 0
	if sent.Valid {
		m.Date = fromNano(sent.Int64)
	}
	if withData {
		var err error
		if m.Segments, err = decodeSegments(segs); err != nil {
			return 0, nil, fmt.Errorf("message %s: %w", m.ID, err)
		}
	}
	return mno, m, nil
}

// scanMessageInto scans a row of exactly msgCols into m, for listings:
// the caller's slice holds the message, so a row costs no Message
// allocation of its own.
func scanMessageInto(rows *sql.Rows, m *store.Message) error {
	var mno, modseq, idate int64
	var sent sql.NullInt64
	var flags string
	var att int
	if err := rows.Scan(&mno, &m.ID, &m.UID, &modseq, &flags, &idate, &m.Size, &m.ThreadID,
		&m.Subject, &m.From, &sent, &m.MessageID, &m.Intro, &att, &m.Summary); err != nil {
		return err
	}
	m.ModSeq, m.Flags, m.InternalDate, m.HasAttachments = uint64(modseq), splitFlags(flags), fromNano(idate), att != 0
	if sent.Valid {
		m.Date = fromNano(sent.Int64)
	}
	return nil
}

// fetchQuery selects the messages of one mailbox (mbx, the first
// argument) matching where, ascending UID. It reads the messages rows
// through the (mbx, uid) index, and message_data only withData: a listing
// or a FLAGS fetch never touches the Meta blob with the text and HTML.
func fetchQuery(withData bool, where string) string {
	q := `SELECT ` + msgCols
	if withData {
		q += `, d.segments, d.meta FROM messages m JOIN message_data d ON d.mno = m.mno`
	} else {
		q += ` FROM messages m`
	}
	return q + ` WHERE m.mbx = ? AND (` + where + `) ORDER BY m.uid`
}

// getMessageQuery finds one message of a user by ID, with its mailbox ID,
// segments and meta.
const getMessageQuery = `SELECT ` + msgCols + `, mb.id, d.segments, d.meta
	FROM messages m JOIN mailboxes mb ON mb.mbx = m.mbx JOIN message_data d ON d.mno = m.mno
	WHERE m.id = ? AND m.uno = (SELECT uno FROM users WHERE id = ?)`

// Fetch returns the messages with UIDs in set (nil: none), ascending UID,
// with their Summary; with withMeta also Segments and Meta.
func (s *Store) Fetch(ctx context.Context, userID, mailboxID string, set store.UIDSet, withMeta bool) ([]store.Message, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch: %w", err)
	}
	if len(set) == 0 {
		return nil, nil
	}
	where, args := uidSetSQL("m.uid", set)
	rows, err := s.r.QueryContext(ctx, fetchQuery(withMeta, where), append([]any{mbx}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: fetch: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		_, m, err := scanMessage(rows, false, withMeta)
		if err != nil {
			return nil, fmt.Errorf("sqlite: fetch: %w", err)
		}
		if set.Contains(m.UID) {
			m.MailboxID, m.UserID = mailboxID, userID
			out = append(out, *m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: fetch: %w", err)
	}
	return out, nil
}

// GetMessage finds a message of the user by ID, with Segments and Meta.
func (s *Store) GetMessage(ctx context.Context, userID, messageID string) (*store.Message, error) {
	_, m, err := scanMessage(s.r.QueryRowContext(ctx, getMessageQuery, messageID, userID), true, true)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get message: %w", notFound(err, "message "+messageID))
	}
	m.UserID = userID
	return m, nil
}

// OpenMessage streams the raw bytes [off, off+n) of m (n < 0: to the end;
// ranges past the end are clipped). If m has no Segments they are loaded.
func (s *Store) OpenMessage(ctx context.Context, m *store.Message, off, n int64) (io.ReadCloser, error) {
	if m == nil || off < 0 {
		return nil, fmt.Errorf("sqlite: open message: bad arguments: %w", store.ErrInvalidInput)
	}
	segs := m.Segments
	if segs == nil && m.Size > 0 {
		var b []byte
		err := s.r.QueryRowContext(ctx, `SELECT d.segments FROM message_data d JOIN messages m ON m.mno = d.mno
			JOIN users u ON u.uno = m.uno WHERE m.id = ? AND (? = '' OR u.id = ?)`, m.ID, m.UserID, m.UserID).Scan(&b)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open message: %w", notFound(err, "message "+m.ID))
		}
		if segs, err = decodeSegments(b); err != nil {
			return nil, fmt.Errorf("sqlite: open message %s: %w", m.ID, err)
		}
	}
	var size int64
	for _, sg := range segs {
		size += sg.Size
	}
	if off > size {
		off = size
	}
	if n < 0 || n > size-off {
		n = size - off
	}
	return blob.Reader(ctx, s.blobs, segs, off, n), nil
}

// msgInfo is what the copy/move/remove paths need of a message.
type msgInfo struct {
	mno   int64
	id    string
	uid   uint32
	size  int64
	sys   int64
	flags string
}

func selectMsgs(t *wtx, mbx int64, set store.UIDSet, extra string) ([]msgInfo, error) {
	q := `SELECT mno, id, uid, size, sys, flags FROM messages WHERE mbx = ?`
	args := []any{mbx}
	if set != nil {
		where, a := uidSetSQL("uid", set)
		q += ` AND (` + where + `)`
		args = append(args, a...)
	}
	rows, err := t.query(q+extra+` ORDER BY uid`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []msgInfo
	for rows.Next() {
		var mi msgInfo
		if err := rows.Scan(&mi.mno, &mi.id, &mi.uid, &mi.size, &mi.sys, &mi.flags); err != nil {
			return nil, err
		}
		if set == nil || set.Contains(mi.uid) {
			out = append(out, mi)
		}
	}
	return out, rows.Err()
}

// transfer is what Copy and Move both start from: the source and target
// mailboxes, the selected messages, and their total size and unseen count.
type transfer struct {
	src, uno, dst int64
	msgs          []msgInfo
	size, unseen  int64
}

// startTransfer resolves both mailboxes, records the target's UIDVALIDITY in
// res, and selects the messages in set; it returns nil when there is
// nothing to copy or move.
func startTransfer(t *wtx, userID, srcMailboxID string, set store.UIDSet, dstMailboxID string, res *store.CopyResult) (*transfer, error) {
	src, uno, err := mailboxNo(t.ctx, t, userID, srcMailboxID)
	if err != nil {
		return nil, err
	}
	dst, _, err := getMailbox(t.ctx, t, userID, dstMailboxID)
	if err != nil {
		return nil, err
	}
	res.DstUIDValidity = mbUIDValidity(t, dst)
	if len(set) == 0 {
		return nil, nil
	}
	msgs, err := selectMsgs(t, src, set, "")
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	x := &transfer{src: src, uno: uno, dst: dst, msgs: msgs}
	for _, m := range msgs {
		x.size += m.size
		x.unseen += int64(b2i(m.sys&sysSeen == 0))
	}
	return x, nil
}

// Copy copies the messages in set to dst in UID order, with new IDs, UIDs
// and MODSEQs, charging the quota and taking blob references.
func (s *Store) Copy(ctx context.Context, userID, srcMailboxID string, set store.UIDSet, dstMailboxID string) (*store.CopyResult, error) {
	res := &store.CopyResult{}
	err := s.update(ctx, "copy", func(t *wtx) error {
		x, err := startTransfer(t, userID, srcMailboxID, set, dstMailboxID, res)
		if x == nil || err != nil {
			return err
		}
		uno, dst, msgs, size, unseen := x.uno, x.dst, x.msgs, x.size, x.unseen
		if err := chargeQuota(t, uno, size); err != nil {
			return err
		}
		uid, modseq, err := allocUIDs(t, dst, len(msgs))
		if err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mailboxes SET total = total + ?, unseen = unseen + ?, size = size + ? WHERE mbx = ?`,
			len(msgs), unseen, size, dst); err != nil {
			return err
		}
		for i, m := range msgs {
			nid, nuid, nmod := newID(), uid+uint32(i), modseq+uint64(i)
			r, err := t.exec(`INSERT INTO messages(id, uno, mbx, uid, modseq, sys, flags, internal_date, size, thread_id,
				subject, from_addr, sent_date, message_id, intro, has_attachments, summary)
				SELECT ?, uno, ?, ?, ?, sys, flags, internal_date, size, thread_id,
				subject, from_addr, sent_date, message_id, intro, has_attachments, summary FROM messages WHERE mno = ?`,
				nid, dst, nuid, int64(nmod), m.mno)
			if err != nil {
				return err
			}
			nmno, err := r.LastInsertId()
			if err != nil {
				return err
			}
			if _, err := t.exec(`INSERT INTO message_data(mno, segments, meta) SELECT ?, segments, meta FROM message_data WHERE mno = ?`, nmno, m.mno); err != nil {
				return err
			}
			// The copy has its own text row and joins the indexer's queue
			// (indexer.go).
			if _, err := t.exec(`INSERT INTO fts_text(mno, headers, body) SELECT ?, headers, body FROM fts_text WHERE mno = ?`, nmno, m.mno); err != nil {
				return err
			}
			if _, err := t.exec(`INSERT INTO fts_pending(mno) VALUES (?)`, nmno); err != nil {
				return err
			}
			if _, err := t.exec(`INSERT INTO message_refs(mno, uno, ref) SELECT ?, uno, ref FROM message_refs WHERE mno = ?`, nmno, m.mno); err != nil {
				return err
			}
			var b []byte
			if err := t.row(`SELECT segments FROM message_data WHERE mno = ?`, m.mno).Scan(&b); err != nil {
				return err
			}
			segs, err := decodeSegments(b)
			if err != nil {
				return err
			}
			if err := refBlobs(t, segs); err != nil {
				return err
			}
			if err := journal(t, uno, store.Change{MailboxID: dstMailboxID, Kind: store.ChangeExists, ModSeq: nmod,
				UID: nuid, MessageID: nid, Flags: splitFlags(m.flags), SourceMailboxID: srcMailboxID, SourceUID: m.uid}); err != nil {
				return err
			}
			res.Pairs = append(res.Pairs, store.UIDPair{Src: m.uid, Dst: nuid})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func mbUIDValidity(t *wtx, mbx int64) uint32 {
	var v uint32
	_ = t.row(`SELECT uid_validity FROM mailboxes WHERE mbx = ?`, mbx).Scan(&v)
	return v
}

// Move moves the messages in set to dst in one transaction: they keep their
// IDs, get new UIDs and MODSEQs in dst, and the source records one expunge
// MODSEQ for all of them.
func (s *Store) Move(ctx context.Context, userID, srcMailboxID string, set store.UIDSet, dstMailboxID string) (*store.CopyResult, error) {
	res := &store.CopyResult{}
	err := s.update(ctx, "move", func(t *wtx) error {
		x, err := startTransfer(t, userID, srcMailboxID, set, dstMailboxID, res)
		if x == nil || err != nil {
			return err
		}
		src, uno, dst, msgs, size, unseen := x.src, x.uno, x.dst, x.msgs, x.size, x.unseen
		uid, modseq, err := allocUIDs(t, dst, len(msgs))
		if err != nil {
			return err
		}
		xmod, err := bumpModSeq(t, src)
		if err != nil {
			return err
		}
		res.ExpungeModSeq = xmod
		if _, err := t.exec(`UPDATE mailboxes SET total = total - ?, unseen = unseen - ?, size = size - ? WHERE mbx = ?`,
			len(msgs), unseen, size, src); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mailboxes SET total = total + ?, unseen = unseen + ?, size = size + ? WHERE mbx = ?`,
			len(msgs), unseen, size, dst); err != nil {
			return err
		}
		for i, m := range msgs {
			nuid, nmod := uid+uint32(i), modseq+uint64(i)
			if _, err := t.exec(`UPDATE messages SET mbx = ?, uid = ?, modseq = ? WHERE mno = ?`, dst, nuid, int64(nmod), m.mno); err != nil {
				return err
			}
			if err := journal(t, uno, store.Change{MailboxID: dstMailboxID, Kind: store.ChangeExists, ModSeq: nmod,
				UID: nuid, MessageID: m.id, Flags: splitFlags(m.flags), SourceMailboxID: srcMailboxID, SourceUID: m.uid, Moved: true}); err != nil {
				return err
			}
			res.Pairs = append(res.Pairs, store.UIDPair{Src: m.uid, Dst: nuid})
		}
		for _, m := range msgs {
			if err := journal(t, uno, store.Change{MailboxID: srcMailboxID, Kind: store.ChangeExpunge, ModSeq: xmod,
				UID: m.uid, MessageID: m.id}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

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

// deletedTerm selects messages with \Deleted; it is written exactly as the
// WHERE of the partial index messages_deleted (migration 0008), so that
// EXPUNGE reads only those rows.
const deletedTerm = " AND sys & 8 != 0"

func (s *Store) remove(ctx context.Context, op, userID, mailboxID string, set store.UIDSet, onlyDeleted bool) (*store.ExpungeResult, error) {
	res := &store.ExpungeResult{}
	err := s.groupUpdate(ctx, op, func(t *wtx) error {
		mbx, uno, err := mailboxNo(t.ctx, t, userID, mailboxID)
		if err != nil {
			return err
		}
		if set != nil && len(set) == 0 {
			return nil
		}
		extra := ""
		if onlyDeleted {
			extra = deletedTerm
		}
		msgs, err := selectMsgs(t, mbx, set, extra)
		if err != nil || len(msgs) == 0 {
			return err
		}
		modseq, err := bumpModSeq(t, mbx)
		if err != nil {
			return err
		}
		var size, unseen int64
		counts := map[string]int64{}
		for _, m := range msgs {
			size += m.size
			unseen += int64(b2i(m.sys&sysSeen == 0))
			var b []byte
			if err := t.row(`SELECT segments FROM message_data WHERE mno = ?`, m.mno).Scan(&b); err != nil {
				return err
			}
			segs, err := decodeSegments(b)
			if err != nil {
				return err
			}
			for _, h := range blobHashes(segs) {
				counts[h]++
			}
			for _, q := range []string{
				`DELETE FROM message_data WHERE mno = ?`,
				`DELETE FROM message_refs WHERE mno = ?`,
				`DELETE FROM messages WHERE mno = ?`,
			} {
				if _, err := t.exec(q, m.mno); err != nil {
					return err
				}
			}
			if err := journal(t, uno, store.Change{MailboxID: mailboxID, Kind: store.ChangeExpunge, ModSeq: modseq,
				UID: m.uid, MessageID: m.id}); err != nil {
				return err
			}
			res.UIDs = append(res.UIDs, m.uid)
		}
		if err := unrefBlobs(t, counts); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE mailboxes SET total = total - ?, unseen = unseen - ?, size = size - ? WHERE mbx = ?`,
			len(msgs), unseen, size, mbx); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE users SET storage_used = storage_used - ? WHERE uno = ?`, size, uno); err != nil {
			return err
		}
		res.ModSeq = modseq
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// findByMessageIDQuery names its index: without statistics SQLite prefers
// the (mbx, uid) index, a scan of the whole mailbox on every delivery, and
// a partial index is only usable when the query repeats its WHERE clause.
const findByMessageIDQuery = `SELECT uid FROM messages INDEXED BY messages_msgid
	WHERE uno = ? AND message_id = ? AND message_id <> '' AND mbx = ? AND internal_date >= ? ORDER BY uid`

// FindByMessageID implements store.Store, through the (uno, message_id) index.
func (s *Store) FindByMessageID(ctx context.Context, userID, mailboxID, messageID string, since time.Time) ([]uint32, error) {
	if messageID == "" {
		return nil, nil
	}
	mbx, uno, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find by message-id: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, findByMessageIDQuery,
		uno, messageID, mbx, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("sqlite: find by message-id: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var uid uint32
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("sqlite: find by message-id: %w", err)
		}
		out = append(out, uid)
	}
	return out, rows.Err()
}
