package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

func newService(t *testing.T) *mail.Service {
	t.Helper()
	lim := mimetree.DefaultLimits()
	lim.InlineMax = 1024
	lim.MaxSize = 1 << 20
	return mailtest.NewService(t, "", "", lim)
}

func newDeliverer(t *testing.T, svc *mail.Service) *delivery.Deliverer {
	return delivery.New(svc, delivery.Options{SpamHeader: "X-Spam-Flag", SpamValue: "YES", DuplicateWindow: time.Hour})
}

func user(t *testing.T, svc *mail.Service, name, addr string) *store.User {
	t.Helper()
	u, err := svc.CreateUser(context.Background(), name, "pw", addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// stored returns the raw bytes of every message in a mailbox of the user.
func stored(t *testing.T, svc *mail.Service, u *store.User, mailbox string) [][]byte {
	t.Helper()
	ctx := context.Background()
	mb, err := svc.Store.FindMailbox(ctx, u.ID, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := svc.Store.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1}}, true)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range msgs {
		rc, err := svc.Store.OpenMessage(ctx, &msgs[i], 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func msg(id, extra, body string) string {
	return "From: a@example.org\r\nTo: b@example.org\r\nSubject: test\r\nMessage-ID: <" + id + ">\r\n" + extra + "\r\n" + body
}

func resolve(t *testing.T, d *delivery.Deliverer, addrs ...string) *delivery.Envelope {
	t.Helper()
	env := &delivery.Envelope{From: "sender@example.org"}
	for _, a := range addrs {
		r, err := d.Resolve(context.Background(), a)
		if err != nil {
			t.Fatalf("resolve %s: %v", a, err)
		}
		env.Recipients = append(env.Recipients, *r)
	}
	return env
}

// Two recipients get one parse of the stream each with their own
// Delivered-To, byte for byte; a large body is shared through the blob store.
func TestDeliverTwoRecipientsByteExact(t *testing.T) {
	svc := newService(t)
	d := newDeliverer(t, svc)
	a := user(t, svc, "alice", "alice@example.com")
	b := user(t, svc, "дмитрий", "дмитрий@пример.рф")
	body := strings.Repeat("large body line for the blob store\r\n", 200)
	raw := msg("two@x", "", body)
	env := resolve(t, d, "Alice+news@EXAMPLE.com", "ДМИТРИЙ@xn--e1afmkfd.xn--p1ai")
	res := d.Deliver(context.Background(), env, strings.NewReader(raw))
	for _, r := range res {
		if r.Err != nil || r.UID != 1 {
			t.Fatalf("result %+v", r)
		}
	}
	for _, c := range []struct {
		u    *store.User
		rcpt string
	}{{a, "Alice+news@EXAMPLE.com"}, {b, "ДМИТРИЙ@xn--e1afmkfd.xn--p1ai"}} {
		got := stored(t, svc, c.u, "INBOX")
		want := "Return-Path: <sender@example.org>\r\nDelivered-To: " + c.rcpt + "\r\n" + raw
		if len(got) != 1 || string(got[0]) != want {
			t.Fatalf("%s: stored %q..., want %q...", c.u.Username, got[0][:min(120, len(got[0]))], want[:120])
		}
	}
}

func TestResolveErrors(t *testing.T) {
	svc := newService(t)
	d := newDeliverer(t, svc)
	user(t, svc, "alice", "alice@example.com")
	for addr, want := range map[string]string{
		"bob@example.com": "550 5.1.1",
		"no-at-sign":      "501 5.1.3",
	} {
		_, err := d.Resolve(context.Background(), addr)
		var de *delivery.Error
		if !errors.As(err, &de) || !strings.HasPrefix(de.Error(), want) {
			t.Errorf("resolve %q: %v, want %s", addr, err, want)
		}
	}
}

func TestQuotaSizeSpamDuplicate(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	d := newDeliverer(t, svc)
	a := user(t, svc, "alice", "alice@example.com")
	full := user(t, svc, "full", "full@example.com")
	q := int64(100)
	if _, err := svc.Store.UpdateUser(ctx, full.ID, store.UserUpdate{QuotaLimit: &q}); err != nil {
		t.Fatal(err)
	}
	res := d.Deliver(ctx, resolve(t, d, "alice@example.com", "full@example.com"), strings.NewReader(msg("q@x", "", "hello\r\n")))
	if res[0].Err != nil || res[1].Err == nil || res[1].Err.Code != 552 || res[1].Err.Status != [3]int{5, 2, 2} {
		t.Fatalf("quota: %v / %v", res[0].Err, res[1].Err)
	}

	big := msg("big@x", "", strings.Repeat("x", 2<<20))
	res = d.Deliver(ctx, resolve(t, d, "alice@example.com"), strings.NewReader(big))
	if res[0].Err == nil || res[0].Err.Code != 552 || res[0].Err.Status != [3]int{5, 3, 4} {
		t.Fatalf("oversize: %v", res[0].Err)
	}

	res = d.Deliver(ctx, resolve(t, d, "alice@example.com"), strings.NewReader(msg("spam@x", "X-Spam-Flag:  yes \r\n", "buy\r\n")))
	if res[0].Err != nil || !res[0].Junk {
		t.Fatalf("spam: %+v", res[0])
	}
	if n := len(stored(t, svc, a, "Junk")); n != 1 {
		t.Fatalf("Junk has %d messages, want 1", n)
	}

	// The same Message-ID three times, concurrently: stored once; a
	// Message-ID that merely contains it is not a duplicate.
	var wg sync.WaitGroup
	results := make([]delivery.Result, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = d.Deliver(ctx, resolve(t, d, "alice@example.com"), strings.NewReader(msg("dup@x", "", "once\r\n")))[0]
		}()
	}
	wg.Wait()
	dups := 0
	for _, r := range results {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		if r.Duplicate {
			dups++
		}
	}
	res = d.Deliver(ctx, resolve(t, d, "alice@example.com"), strings.NewReader(msg("xdup@x", "", "other\r\n")))
	if dups != 2 || res[0].Duplicate {
		t.Fatalf("duplicates: %d of 3 suppressed (want 2); containing id suppressed: %v", dups, res[0].Duplicate)
	}
	inbox := stored(t, svc, a, "INBOX")
	n := 0
	for _, m := range inbox {
		if bytes.Contains(m, []byte("<dup@x>")) {
			n++
		}
	}
	if n != 1 || len(inbox) != 3 { // q@x, dup@x, xdup@x
		t.Fatalf("INBOX: %d copies of dup@x, %d messages", n, len(inbox))
	}

	// Outside the window it is stored again.
	late := delivery.New(svc, delivery.Options{DuplicateWindow: time.Hour, Now: func() time.Time { return time.Now().Add(3 * time.Hour) }})
	res = late.Deliver(ctx, resolve(t, d, "alice@example.com"), strings.NewReader(msg("dup@x", "", "once\r\n")))
	if res[0].Err != nil || res[0].Duplicate {
		t.Fatalf("after the window: %+v", res[0])
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, fmt.Errorf("connection: %w", delivery.ErrTooLarge)
}

func TestReaderErrorsAreClassified(t *testing.T) {
	svc := newService(t)
	d := newDeliverer(t, svc)
	user(t, svc, "alice", "alice@example.com")
	res := d.Deliver(context.Background(), resolve(t, d, "alice@example.com"), failingReader{})
	if res[0].Err == nil || res[0].Err.Code != 552 {
		t.Fatalf("too large from reader: %v", res[0].Err)
	}
	res = d.Deliver(context.Background(), resolve(t, d, "alice@example.com"), io.MultiReader(strings.NewReader("Subject: x\r\n"), errReader{}))
	if res[0].Err == nil || res[0].Err.Code != 451 || res[0].Err.Status != [3]int{4, 3, 0} {
		t.Fatalf("broken stream: %v", res[0].Err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
