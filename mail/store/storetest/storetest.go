// Package storetest is the conformance suite that every store.Store backend
// must pass. A backend's test calls Run with a function that opens a fresh,
// empty store (and the blob store it uses) for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) (store.Store, blob.Store) { ... })
//	}
//
// Test messages are synthetic: NewMessage values built directly, with inline
// segments or blob segments written through the blob store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// Opener opens a fresh, empty store for one subtest. It registers its own
// cleanup (t.Cleanup) to close the store.
type Opener func(t *testing.T) (store.Store, blob.Store)

// Options adapt the suite to a backend's test server. The zero value is
// the full suite, which Run uses.
type Options struct {
	// PerWriter, if > 0, is the number of messages each of the Writers
	// appends in the Concurrency test instead of PerWriter (or
	// PerWriterShort with -short): for a test server too slow for the
	// full size (the MongoDB backend on FerretDB).
	PerWriter int
	// Skip maps subtest names to the reason they cannot run on this test
	// server; they are reported as skipped with that reason.
	Skip map[string]string
}

// Run runs the whole conformance suite.
func Run(t *testing.T, open func(t *testing.T) (store.Store, blob.Store)) {
	RunWith(t, open, Options{})
}

// RunWith runs the conformance suite adapted by opts.
func RunWith(t *testing.T, open func(t *testing.T) (store.Store, blob.Store), opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Users", testUsers},
		{"UnicodeUsers", testUnicodeUsers},
		{"Addresses", testAddresses},
		{"DefaultMailboxes", testDefaultMailboxes},
		{"MailboxNames", testMailboxNames},
		{"MailboxHierarchy", testMailboxHierarchy},
		{"RenameMailbox", testRenameMailbox},
		{"DeleteMailbox", testDeleteMailbox},
		{"Subscribe", testSubscribe},
		{"Ownership", testOwnership},
		{"AppendFetch", testAppendFetch},
		{"Summary", testSummary},
		{"FetchRefs", testFetchRefs},
		{"OpenMessage", testOpenMessage},
		{"FlagNormalization", testFlagNormalization},
		{"Threads", testThreads},
		{"FindByMessageID", testFindByMessageID},
		{"StoreFlags", testStoreFlags},
		{"UnchangedSince", testUnchangedSince},
		{"Copy", testCopy},
		{"Move", testMove},
		{"Expunge", testExpunge},
		{"Delete", testDelete},
		{"ChangedSince", testChangedSince},
		{"Quota", testQuota},
		{"CountersExact", testCountersExact},
		{"SearchFields", testSearchFields},
		{"SearchDates", testSearchDates},
		{"SearchLogic", testSearchLogic},
		{"SearchFullText", testSearchFullText},
		{"Journal", testJournal},
		{"JournalPrune", testJournalPrune},
		{"JournalSource", testJournalSource},
		{"Webhooks", testWebhooks},
		{"BlobRefcounts", testBlobRefcounts},
		{"DeleteUserReleasesBlobs", testDeleteUserBlobs},
		{"Concurrency", testConcurrency},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := opts.Skip[tc.name]; ok {
				t.Skip(why)
			}
			s, bs := open(t)
			h := &harness{t: t, s: s, bs: bs, ctx: context.Background(), opts: opts}
			tc.fn(t, h)
			h.consistent()
		})
	}
}

type harness struct {
	t    *testing.T
	s    store.Store
	bs   blob.Store
	ctx  context.Context
	n    int
	opts Options
}

// consistent fails the test if CheckConsistency reports problems.
func (h *harness) consistent() {
	h.t.Helper()
	c, err := h.s.CheckConsistency(h.ctx)
	if err != nil {
		h.t.Fatalf("CheckConsistency: %v", err)
	}
	if len(c.Problems) > 0 {
		h.t.Fatalf("CheckConsistency found %d problems:\n  %s", len(c.Problems), strings.Join(c.Problems, "\n  "))
	}
}

func (h *harness) user(name string) *store.User {
	h.t.Helper()
	u, err := h.s.CreateUser(h.ctx, store.NewUser{Username: name, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=1$c2FsdA$aGFzaA"})
	if err != nil {
		h.t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

func (h *harness) mailbox(u *store.User, name string) *store.Mailbox {
	h.t.Helper()
	mb, err := h.s.FindMailbox(h.ctx, u.ID, name)
	if err == nil {
		return mb
	}
	mb, err = h.s.CreateMailbox(h.ctx, u.ID, name, "")
	if err != nil {
		h.t.Fatalf("CreateMailbox(%q): %v", name, err)
	}
	return mb
}

func (h *harness) getMailbox(u *store.User, id string) *store.Mailbox {
	h.t.Helper()
	mb, err := h.s.GetMailbox(h.ctx, u.ID, id)
	if err != nil {
		h.t.Fatalf("GetMailbox: %v", err)
	}
	return mb
}

// spec describes a synthetic message.
type spec struct {
	Subject, From, To, Cc, Bcc string
	Body                       string
	Flags                      []string
	Date, InternalDate         time.Time
	MessageID, InReplyTo       string
	References                 []string
	Headers                    []store.Header
	// Blob, if non-nil, is stored through the blob store as an attachment part.
	Blob []byte
	Meta []byte
}

// raw returns the message bytes: header block, body, optional blob part.
func (sp spec) parts() (head, body []byte) {
	var b bytes.Buffer
	hdr := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	hdr("From", sp.From)
	hdr("To", sp.To)
	hdr("Cc", sp.Cc)
	hdr("Subject", sp.Subject)
	if sp.MessageID != "" {
		hdr("Message-ID", "<"+sp.MessageID+">")
	}
	for _, x := range sp.Headers {
		hdr(x.Key, x.Value)
	}
	b.WriteString("\r\n")
	return b.Bytes(), []byte(sp.Body + "\r\n")
}

// msg builds a NewMessage from sp; blob parts are written to the blob store.
func (h *harness) msg(sp spec) *store.NewMessage {
	h.t.Helper()
	head, body := sp.parts()
	segs := []blob.Segment{{Inline: head, Size: int64(len(head))}, {Inline: body, Size: int64(len(body))}}
	size := int64(len(head) + len(body))
	if sp.Blob != nil {
		hash := h.putBlob(sp.Blob)
		segs = append(segs, blob.Segment{Hash: hash, Size: int64(len(sp.Blob))})
		size += int64(len(sp.Blob))
	}
	hs := []store.Header{}
	for _, kv := range [][2]string{{"From", sp.From}, {"To", sp.To}, {"Cc", sp.Cc}, {"Subject", sp.Subject}} {
		if kv[1] != "" {
			hs = append(hs, store.Header{Key: kv[0], Value: kv[1]})
		}
	}
	if sp.MessageID != "" {
		hs = append(hs, store.Header{Key: "Message-ID", Value: "<" + sp.MessageID + ">"})
	}
	hs = append(hs, sp.Headers...)
	intro := sp.Body
	if len(intro) > 64 {
		intro = intro[:64]
	}
	return &store.NewMessage{
		Flags: sp.Flags, InternalDate: sp.InternalDate, Size: size, Segments: segs, Meta: sp.Meta,
		Subject: sp.Subject, From: sp.From, To: sp.To, Cc: sp.Cc, Bcc: sp.Bcc, Date: sp.Date,
		MessageID: sp.MessageID, InReplyTo: sp.InReplyTo, References: sp.References,
		Headers: hs, Text: sp.Body, Intro: intro, HasAttachments: sp.Blob != nil,
	}
}

// rawOf concatenates the segments of a NewMessage (blob parts read back).
func (h *harness) rawOf(segs []blob.Segment) []byte {
	h.t.Helper()
	rc := blob.Reader(h.ctx, h.bs, segs, 0, -1)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatalf("reading segments: %v", err)
	}
	return b
}

func (h *harness) putBlob(data []byte) string {
	h.t.Helper()
	w, err := h.bs.Create(h.ctx)
	if err != nil {
		h.t.Fatalf("blob Create: %v", err)
	}
	if _, err := w.Write(data); err != nil {
		h.t.Fatalf("blob Write: %v", err)
	}
	hash, n, err := w.Commit()
	if err != nil {
		h.t.Fatalf("blob Commit: %v", err)
	}
	if n != int64(len(data)) {
		h.t.Fatalf("blob Commit size %d, want %d", n, len(data))
	}
	return hash
}

func (h *harness) blobs() map[string]int64 {
	h.t.Helper()
	m := map[string]int64{}
	if err := h.bs.List(h.ctx, func(hash string, size int64) error { m[hash] = size; return nil }); err != nil {
		h.t.Fatalf("blob List: %v", err)
	}
	return m
}

func (h *harness) append(u *store.User, mb *store.Mailbox, sp spec) *store.Message {
	h.t.Helper()
	m, err := h.s.Append(h.ctx, u.ID, mb.ID, h.msg(sp))
	if err != nil {
		h.t.Fatalf("Append: %v", err)
	}
	return m
}

// appendN appends n simple messages "msg 1".. and returns them.
func (h *harness) appendN(u *store.User, mb *store.Mailbox, n int) []*store.Message {
	h.t.Helper()
	var out []*store.Message
	for i := 0; i < n; i++ {
		h.n++
		out = append(out, h.append(u, mb, spec{Subject: fmt.Sprintf("msg %d", h.n), From: "a@example.com", Body: fmt.Sprintf("body %d", h.n)}))
	}
	return out
}

func (h *harness) refs(u *store.User, mb *store.Mailbox) []store.MessageRef {
	h.t.Helper()
	r, err := h.s.ListRefs(h.ctx, u.ID, mb.ID)
	if err != nil {
		h.t.Fatalf("ListRefs: %v", err)
	}
	return r
}

func (h *harness) refByUID(u *store.User, mb *store.Mailbox, uid uint32) *store.MessageRef {
	h.t.Helper()
	for _, r := range h.refs(u, mb) {
		if r.UID == uid {
			return &r
		}
	}
	return nil
}

// counters checks Counters against the messages listed by Fetch.
func (h *harness) counters(u *store.User, mb *store.Mailbox) store.Counters {
	h.t.Helper()
	c, err := h.s.Counters(h.ctx, u.ID, mb.ID)
	if err != nil {
		h.t.Fatalf("Counters: %v", err)
	}
	ms, err := h.s.Fetch(h.ctx, u.ID, mb.ID, store.UIDSet{{Start: 1}}, false)
	if err != nil {
		h.t.Fatalf("Fetch: %v", err)
	}
	var want store.Counters
	for _, m := range ms {
		want.Total++
		want.Size += m.Size
		if !slices.Contains(m.Flags, store.FlagSeen) {
			want.Unseen++
		}
	}
	if c != want {
		h.t.Fatalf("Counters(%s) = %+v, messages say %+v", mb.Name, c, want)
	}
	return c
}

func (h *harness) search(u *store.User, mb *store.Mailbox, c store.Criteria) []uint32 {
	h.t.Helper()
	uids, err := h.s.Search(h.ctx, u.ID, mb.ID, &c)
	if err != nil {
		h.t.Fatalf("Search(%+v): %v", c, err)
	}
	return uids
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func uids(ms ...*store.Message) []uint32 {
	var out []uint32
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

func set(u ...uint32) store.UIDSet {
	var s store.UIDSet
	for _, x := range u {
		s = append(s, store.UIDRange{Start: x, Stop: x})
	}
	return s
}

func all() store.UIDSet { return store.UIDSet{{Start: 1}} }
