package mail_test

import (
	"bytes"
	"context"
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
		part, err := mail.Addresses(m)
		if err != nil {
			t.Fatal(err)
		}
		want := mail.ListAddresses{From: full.From, To: full.To, Cc: full.Cc, Bcc: full.Bcc}
		if !reflect.DeepEqual(*part, want) {
			t.Fatalf("%s: Addresses %+v, Meta %+v", f, *part, want)
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
	if len(p.Messages[0].Meta) == 0 {
		t.Fatal("page without Meta")
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func storeRange(a, b uint32) store.UIDSet { return store.UIDSet{{Start: a, Stop: b}} }
