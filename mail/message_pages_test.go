package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// TestAddressesMatchMeta checks the partial decoder against the full one on
// every corpus message: it relies on the field order of mimetree.Meta.
func TestAddressesMatchMeta(t *testing.T) {
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, "a", "pw", "a@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	files, _ := filepath.Glob("mimetree/testdata/corpus/*")
	if len(files) < 10 {
		t.Fatalf("corpus: %d files", len(files))
	}
	withAddrs := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		m, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader(raw), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		m, _ = svc.Store.GetMessage(ctx, u.ID, m.ID)
		full, err := mail.Meta(m)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Summary) == 0 {
			t.Fatalf("%s: stored without a summary", f)
		}
		want := mail.ListAddresses{From: full.From, To: full.To, Cc: full.Cc, Bcc: full.Bcc}
		// From the stored summary, then from Meta alone (messages stored
		// before the summary existed).
		for _, mm := range []store.Message{*m, {MessageRef: m.MessageRef, Meta: m.Meta}} {
			part, err := mail.Addresses(&mm)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*part, want) {
				t.Fatalf("%s: Addresses %+v, Meta %+v", f, *part, want)
			}
		}
		if len(want.From)+len(want.To) > 0 {
			withAddrs++
		}
	}
	if withAddrs < 5 {
		t.Fatalf("only %d corpus messages have addresses", withAddrs)
	}
}

func TestListPageAcrossGaps(t *testing.T) {
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, _ := svc.CreateUser(ctx, "b", "pw", "", 0)
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	var uids []uint32
	for i := 0; i < 120; i++ {
		m, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader([]byte("Subject: x\r\n\r\nx\r\n")), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, m.UID)
	}
	// A long gap: delete UIDs 20..100, so a page must look past 80 missing.
	if _, err := svc.Delete(ctx, u.ID, inbox.ID, storeRange(uids[19], uids[99])); err != nil {
		t.Fatal(err)
	}
	p, err := svc.ListPage(ctx, u.ID, inbox.ID, mail.PageQuery{Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 25 || !p.Older || p.Newer {
		t.Fatalf("first page: %d older=%v newer=%v", len(p.Messages), p.Older, p.Newer)
	}
	if p.Messages[0].UID != uids[119] || p.Messages[19].UID != uids[100] || p.Messages[20].UID != uids[18] {
		t.Fatalf("page UIDs %d..%d..%d", p.Messages[0].UID, p.Messages[19].UID, p.Messages[20].UID)
	}
	last := p.Messages[24].UID
	p, _ = svc.ListPage(ctx, u.ID, inbox.ID, mail.PageQuery{Before: last, Limit: 25})
	if len(p.Messages) != 14 || p.Older || !p.Newer || p.Messages[0].UID != last-1 {
		t.Fatalf("last page: %d older=%v", len(p.Messages), p.Older)
	}
	p, _ = svc.ListPage(ctx, u.ID, inbox.ID, mail.PageQuery{After: uids[0], Limit: 5})
	if len(p.Messages) != 5 || p.Messages[4].UID != uids[1] || !p.Newer {
		t.Fatalf("newer page from the bottom: %d first %d", len(p.Messages), p.Messages[0].UID)
	}
	if len(p.Messages[0].Summary) == 0 || p.Messages[0].Meta != nil {
		t.Fatalf("page message with summary %q and %d bytes of Meta; want a summary and no Meta", p.Messages[0].Summary, len(p.Messages[0].Meta))
	}
}

// TestListPageWithoutSummary: messages stored without a summary (before
// it existed, in a store not backfilled) get one from their Meta in the
// listing.
func TestListPageWithoutSummary(t *testing.T) {
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, _ := svc.CreateUser(ctx, "c", "pw", "", 0)
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	raw := "From: Ann <ann@example.com>\r\nTo: c@example.com\r\nSubject: old\r\n\r\nx\r\n"
	p, err := mimetree.Parse(ctx, bytesReader([]byte(raw)), svc.Blobs, svc.Limits)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(p.Meta)
	old, err := svc.Store.Append(ctx, u.ID, inbox.ID, &store.NewMessage{Size: p.Meta.Size, Segments: p.Segments, Meta: meta, Subject: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader([]byte("From: b@example.com\r\nSubject: new\r\n\r\ny\r\n")), nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	pg, err := svc.ListPage(ctx, u.ID, inbox.ID, mail.PageQuery{Limit: 10})
	if err != nil || len(pg.Messages) != 2 {
		t.Fatalf("ListPage = %+v, %v", pg, err)
	}
	got := pg.Messages[1]
	if got.ID != old.ID || len(got.Summary) == 0 {
		t.Fatalf("old message %s in the listing with summary %q", got.ID, got.Summary)
	}
	a, err := mail.Addresses(&got)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.From) != 1 || a.From[0].Address != "ann@example.com" || len(a.To) != 1 || a.To[0].Address != "c@example.com" {
		t.Fatalf("addresses of the old message: %+v", a)
	}
	if a, _ := mail.Addresses(&pg.Messages[0]); len(a.From) != 1 || a.From[0].Address != "b@example.com" {
		t.Fatalf("addresses of the new message: %+v", a)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func storeRange(a, b uint32) store.UIDSet { return store.UIDSet{{Start: a, Stop: b}} }

// TestAddressesTrickyStrings puts quotes, backslashes, brackets and
// look-alike keys in the fields Addresses skips and in the address lists.
func TestAddressesTrickyStrings(t *testing.T) {
	tricky := `"}],"from":[{"addr":"evil@x"}],\\"` + "\\\u00e9\n{["
	meta := mimetree.Meta{
		Size:     42,
		Root:     &mimetree.Part{},
		Envelope: tricky,
		Headers:  []mimetree.Header{{Key: "from", Value: tricky}, {Key: `x"\`, Value: `\\`}},
		Subject:  tricky,
		From:     []mimetree.Address{{Name: tricky, Address: "a@example.com"}},
		ReplyTo:  []mimetree.Address{{Address: "r@example.com"}},
		To:       []mimetree.Address{{Address: "b@example.com"}, {Name: `\`, Address: "c@example.com"}},
		Bcc:      []mimetree.Address{{Address: "d@example.com"}},
		Text:     tricky,
	}
	raw, err := json.Marshal(&meta)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mail.Addresses(&store.Message{Meta: raw})
	if err != nil {
		t.Fatal(err)
	}
	want := mail.ListAddresses{From: meta.From, To: meta.To, Bcc: meta.Bcc}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("got %+v\nwant %+v", *got, want)
	}
}

// TestAddressesMalformed checks that broken Meta or a broken summary is an
// error, not a panic or a silently empty result; a message with neither
// has no addresses.
func TestAddressesMalformed(t *testing.T) {
	if a, err := mail.Addresses(&store.Message{}); err != nil || !reflect.DeepEqual(*a, mail.ListAddresses{}) {
		t.Errorf("no Meta, no summary: %+v, %v; want no addresses", a, err)
	}
	for _, in := range []string{`[]`, `{"from":{}}`, `{"to":[1]}`, `{`} {
		if a, err := mail.Addresses(&store.Message{Summary: []byte(in)}); err == nil {
			t.Errorf("summary %q: no error, got %+v", in, a)
		}
	}
	for _, in := range []string{
		`[]`, `{`, `{"size":1`, `{"env":"abc`, `{"root":{"a":[1,2}`,
		`{"from":[{"addr":"a@x"}`, `{"from" [1]}`, `{1:2}`, `{"from":[{"addr":1}],"date":""}`,
	} {
		if a, err := mail.Addresses(&store.Message{Meta: []byte(in)}); err == nil {
			t.Errorf("%q: no error, got %+v", in, a)
		}
	}
}

// BenchmarkAddresses decodes the address lists of every corpus message:
// "scan" is mail.Addresses, "tokens" the encoding/json token decoder it
// replaced (kept here as the baseline), "full" the whole Meta.
func BenchmarkAddresses(b *testing.B) {
	svc := mailtest.NewService(b, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, "a", "pw", "a@example.com", 0)
	if err != nil {
		b.Fatal(err)
	}
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	files, _ := filepath.Glob("mimetree/testdata/corpus/*")
	var metas []*store.Message
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		m, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader(raw), nil, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		if m, err = svc.Store.GetMessage(ctx, u.ID, m.ID); err != nil {
			b.Fatal(err)
		}
		metas = append(metas, m)
	}
	if len(metas) < 10 {
		b.Fatalf("corpus: %d messages", len(metas))
	}
	run := func(name string, f func(*store.Message) error) {
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := f(metas[i%len(metas)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("scan", func(m *store.Message) error { _, err := mail.Addresses(m); return err })
	run("tokens", func(m *store.Message) error { _, err := addressesTokens(m); return err })
	run("full", func(m *store.Message) error { _, err := mail.Meta(m); return err })
}

// addressesTokens is the previous mail.Addresses (encoding/json tokens),
// the baseline of BenchmarkAddresses.
func addressesTokens(m *store.Message) (*mail.ListAddresses, error) {
	var a mail.ListAddresses
	dec := json.NewDecoder(bytes.NewReader(m.Meta))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var dst any
		switch t {
		case "from":
			dst = &a.From
		case "to":
			dst = &a.To
		case "cc":
			dst = &a.Cc
		case "bcc":
			dst = &a.Bcc
		case "date":
			return &a, nil
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return nil, err
		}
	}
	return &a, nil
}

// FuzzAddresses feeds arbitrary bytes to the scanner: it must return an
// error or a result, never panic or loop, and agree with encoding/json on
// Meta-shaped objects (lower-case keys, no "date").
func FuzzAddresses(f *testing.F) {
	f.Add([]byte(`{"size":1,"root":{"a":[1,"]}"]},"from":[{"name":"\"","addr":"a@x"}],"to":[],"date":"x"}`))
	f.Add([]byte(`{"hdrs":[{"k":"from","v":"\\"}],"cc":[{"addr":"c@x"}]}`))
	f.Add([]byte(`{"env":"a\\\"b","bcc":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := mail.Addresses(&store.Message{Meta: in})
		if err != nil || !json.Valid(in) || bytes.Contains(in, []byte(`"date"`)) ||
			!bytes.Equal(in, bytes.ToLower(in)) || bytes.Contains(in, []byte(`\u`)) {
			return
		}
		var want mail.ListAddresses
		if json.Unmarshal(in, &want) != nil {
			return
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("%q: scanner %+v, encoding/json %+v", in, *got, want)
		}
	})
}

// hidePageFetch hides the store's one-query page reader, so ListPage takes
// its generic path (UID windows through Fetch), as on a backend without one.
type hidePageFetch struct{ store.Store }

// TestListPageOneQueryMatchesWindows: the one-query page of mail/sqlite
// gives the same pages as the generic UID windows, across gaps, at both
// ends, past the ends, and for mailboxes that are not the user's.
func TestListPageOneQueryMatchesWindows(t *testing.T) {
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, _ := svc.CreateUser(ctx, "c", "pw", "", 0)
	other, _ := svc.CreateUser(ctx, "d", "pw", "", 0)
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	otherInbox, _ := svc.Store.FindMailbox(ctx, other.ID, "INBOX")
	empty, err := svc.Store.CreateMailbox(ctx, u.ID, "Empty", "")
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for i := 0; i < 60; i++ {
		raw := fmt.Sprintf("From: A <a%d@example.com>\r\nSubject: n%d\r\n\r\nx\r\n", i, i)
		m, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader([]byte(raw)), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, m.UID)
	}
	// Gaps at the bottom, in the middle and at the top.
	for _, r := range [][2]int{{0, 2}, {20, 40}, {57, 59}} {
		if _, err := svc.Delete(ctx, u.ID, inbox.ID, storeRange(uids[r[0]], uids[r[1]])); err != nil {
			t.Fatal(err)
		}
	}
	type qc struct {
		mbx, user string
		q         mail.PageQuery
	}
	var cases []qc
	for _, lim := range []int{1, 7, 25, 100} {
		cases = append(cases, qc{inbox.ID, u.ID, mail.PageQuery{Limit: lim}})
		for _, c := range []uint32{1, 2, 4, 10, 21, 30, 42, 57, 58, 60, 61, 1000} {
			cases = append(cases, qc{inbox.ID, u.ID, mail.PageQuery{Before: c, Limit: lim}},
				qc{inbox.ID, u.ID, mail.PageQuery{After: c, Limit: lim}})
		}
	}
	cases = append(cases, qc{empty.ID, u.ID, mail.PageQuery{Limit: 5}}, qc{empty.ID, u.ID, mail.PageQuery{After: 3, Limit: 5}},
		qc{otherInbox.ID, u.ID, mail.PageQuery{Limit: 5}}, qc{"nonexistent", u.ID, mail.PageQuery{Before: 9, Limit: 5}})
	direct := svc.Store
	if _, ok := direct.(interface {
		FetchPage(context.Context, string, string, uint32, uint32, int) ([]store.Message, error)
	}); !ok {
		t.Fatalf("%T reads no page in one query", direct)
	}
	defer func() { svc.Store = direct }()
	for _, c := range cases {
		svc.Store = direct
		p1, err1 := svc.ListPage(ctx, c.user, c.mbx, c.q)
		svc.Store = hidePageFetch{direct}
		p2, err2 := svc.ListPage(ctx, c.user, c.mbx, c.q)
		if (err1 == nil) != (err2 == nil) || (err1 != nil && !errors.Is(err1, store.ErrNotFound)) {
			t.Fatalf("%+v: errors %v / %v", c, err1, err2)
		}
		if err1 != nil {
			continue
		}
		if p1.Older != p2.Older || p1.Newer != p2.Newer || len(p1.Messages) != len(p2.Messages) {
			t.Fatalf("%+v: one query %d older=%v newer=%v, windows %d older=%v newer=%v", c,
				len(p1.Messages), p1.Older, p1.Newer, len(p2.Messages), p2.Older, p2.Newer)
		}
		for i := range p1.Messages {
			if !reflect.DeepEqual(p1.Messages[i], p2.Messages[i]) {
				t.Fatalf("%+v: message %d differs:\n%+v\n%+v", c, i, p1.Messages[i], p2.Messages[i])
			}
		}
	}
	if p, _ := svc.ListPage(ctx, u.ID, inbox.ID, mail.PageQuery{Limit: 3}); len(p.Messages) != 3 || p.Messages[0].UID != uids[56] {
		t.Fatalf("first page %+v", p)
	}
}
