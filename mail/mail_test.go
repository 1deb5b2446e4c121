package mail_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

func newService(t *testing.T, inlineMax int64) *mail.Service {
	t.Helper()
	lim := mimetree.DefaultLimits()
	lim.InlineMax = inlineMax
	return mailtest.NewService(t, "", "", lim)
}

func blobCount(t *testing.T, b blob.Store) int {
	t.Helper()
	n := 0
	if err := b.List(context.Background(), func(string, int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every corpus message goes in through the core and comes out byte for byte,
// whole and in ranges, with small bodies inline and larger ones in blobs.
func TestCorpusRoundTripThroughStore(t *testing.T) {
	ctx := context.Background()
	files, _ := filepath.Glob(filepath.Join("mimetree", "testdata", "corpus", "*"))
	if len(files) < 20 {
		t.Fatalf("found %d corpus files", len(files))
	}
	for _, inline := range []int64{32, 16 << 10} {
		t.Run(fmt.Sprintf("inline=%d", inline), func(t *testing.T) {
			svc := newService(t, inline)
			u, err := svc.CreateUser(ctx, "bob", "pw", "bob@example.com", 0)
			if err != nil {
				t.Fatal(err)
			}
			inbox, err := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, f := range files {
				raw, _ := os.ReadFile(f)
				m, err := svc.Append(ctx, u.ID, inbox.ID, bytes.NewReader(raw), []string{store.FlagSeen}, time.Time{})
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				total += int64(len(raw))
				if m.Size != int64(len(raw)) {
					t.Fatalf("%s: size %d, want %d", f, m.Size, len(raw))
				}
				got, err := svc.Store.GetMessage(ctx, u.ID, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				rc, err := svc.Store.OpenMessage(ctx, got, 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				back, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(back, raw) {
					t.Fatalf("%s: rebuilt message differs (err %v, %d vs %d bytes)", f, err, len(back), len(raw))
				}
				if _, err := mail.Meta(got); err != nil {
					t.Fatal(err)
				}
			}
			if inline == 32 && blobCount(t, svc.Blobs) == 0 {
				t.Fatal("with a 32-byte inline threshold no body went to the blob store")
			}
			u2, _ := svc.Store.GetUser(ctx, u.ID)
			if u2.StorageUsed != total {
				t.Fatalf("storage used %d, want %d", u2.StorageUsed, total)
			}
		})
	}
}

func bigMessage(subject string) []byte {
	att := strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n", 2000) // ~76 KB of base64
	return []byte("From: a@example.com\r\nTo: b@example.com\r\nSubject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n" + att + "--XX--\r\n")
}

// One attachment delivered to two users is stored once and removed with the
// last message that references it.
func TestBlobsSharedAndReleased(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, 16<<10)
	var ids []struct{ user, mbox string }
	for _, name := range []string{"u1", "u2"} {
		u, err := svc.CreateUser(ctx, name, "pw", name+"@example.com", 0)
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
		// Different headers, same attachment bytes.
		if _, err := svc.Append(ctx, u.ID, mb.ID, bytes.NewReader(bigMessage("to "+name)), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, struct{ user, mbox string }{u.ID, mb.ID})
	}
	if n := blobCount(t, svc.Blobs); n != 1 {
		t.Fatalf("blob count %d after two deliveries of one attachment, want 1", n)
	}
	all := store.UIDSet{{Start: 1}}
	if _, err := svc.Delete(ctx, ids[0].user, ids[0].mbox, all); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, svc.Blobs); n != 1 {
		t.Fatalf("blob count %d after deleting one of two references, want 1", n)
	}
	if _, err := svc.Delete(ctx, ids[1].user, ids[1].mbox, all); err != nil {
		t.Fatal(err)
	}
	if n := blobCount(t, svc.Blobs); n != 0 {
		t.Fatalf("blob count %d after deleting the last reference, want 0", n)
	}
	c, err := svc.Store.CheckConsistency(ctx)
	if err != nil || len(c.Problems) > 0 {
		t.Fatalf("consistency: %v %v", err, c)
	}
}

// Changes made through the core are announced on the bus with the journal
// position, and the journal tells what changed.
func TestChangesAreAnnounced(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, 16<<10)
	u, _ := svc.CreateUser(ctx, "carol", "pw", "", 0)
	mb, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	ch, cancel, _ := svc.Bus.Subscribe(ctx, u.ID)
	defer cancel()
	start, _ := svc.Store.LastChange(ctx, u.ID)
	m, err := svc.Append(ctx, u.ID, mb.ID, strings.NewReader("Subject: hi\r\n\r\nbody\r\n"), nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b := <-ch
	if b.UserID != u.ID || b.Seq <= start {
		t.Fatalf("beacon %+v after append, journal started at %d", b, start)
	}
	chs, err := svc.Store.Changes(ctx, u.ID, "", start, 10)
	if err != nil || len(chs) != 1 || chs[0].Kind != store.ChangeExists || chs[0].UID != m.UID || chs[0].Seq != b.Seq {
		t.Fatalf("journal after append: %+v %v", chs, err)
	}
	if _, err := svc.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: m.UID, Stop: m.UID}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagFlagged}}); err != nil {
		t.Fatal(err)
	}
	if b2 := <-ch; b2.Seq <= b.Seq {
		t.Fatalf("flag change beacon %d not after %d", b2.Seq, b.Seq)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, 16<<10)
	u, err := svc.CreateUser(ctx, "dave", "right", "Dave@Example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, login := range []string{"dave", "DAVE", "dave@example.com", "dave+tag@EXAMPLE.com"} {
		got, err := svc.Authenticate(ctx, login, "right")
		if err != nil || got.ID != u.ID {
			t.Errorf("Authenticate(%q): %v", login, err)
		}
	}
	for _, c := range [][2]string{{"dave", "wrong"}, {"nobody", "right"}} {
		if _, err := svc.Authenticate(ctx, c[0], c[1]); !errors.Is(err, store.ErrAuthFailed) {
			t.Errorf("Authenticate(%q, %q) err = %v, want ErrAuthFailed", c[0], c[1], err)
		}
	}
	dis := true
	svc.Store.UpdateUser(ctx, u.ID, store.UserUpdate{Disabled: &dis})
	if _, err := svc.Authenticate(ctx, "dave", "right"); !errors.Is(err, store.ErrUserDisabled) {
		t.Errorf("disabled user: err = %v", err)
	}
	if _, err := svc.CreateUser(ctx, "erin", "", "", 0); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("empty password: err = %v", err)
	}
}
