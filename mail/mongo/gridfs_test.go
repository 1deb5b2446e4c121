package mongo_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/store"
)

func putBlob(t *testing.T, g blob.Store, data []byte) string {
	t.Helper()
	w, err := g.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 1000 { // several writes
		if _, err := w.Write(data[off:min(off+1000, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	h, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Commit size %d, want %d", n, len(data))
	}
	return h
}

func TestGridFS(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	g := mongo.NewGridFS(s.Database(), t.TempDir())
	// Larger than one GridFS chunk (255 KiB), not a multiple of it.
	data := bytes.Repeat([]byte("0123456789abcdef\r\n"), 40000)
	sum := blake2b.Sum256(data)
	h := putBlob(t, g, data)
	if h != hex.EncodeToString(sum[:]) {
		t.Fatalf("hash %s, want the BLAKE2b-256 %x", h, sum)
	}
	if h2 := putBlob(t, g, data); h2 != h {
		t.Fatalf("same content, hash %s then %s", h, h2)
	}
	n := 0
	if err := g.List(ctx, func(hash string, size int64) error {
		n++
		if hash != h || size != int64(len(data)) {
			t.Errorf("List: %s %d", hash, size)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("List reported %d blobs after writing one content twice, want 1 (de-duplicated)", n)
	}
	for _, off := range []int64{0, 1, 261119, 261120, 300001, int64(len(data)) - 1, int64(len(data))} {
		rc, err := g.Open(ctx, h, off)
		if err != nil {
			t.Fatalf("Open at %d: %v", off, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[off:]) {
			t.Fatalf("Open at %d: %d bytes (err %v), want %d", off, len(got), err, len(data)-int(off))
		}
	}
	// Aborted blobs leave nothing.
	w, _ := g.Create(ctx)
	w.Write([]byte("aborted"))
	w.Abort()
	if err := g.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Open(ctx, h, 0); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want blob.ErrNotFound", err)
	}
	if err := g.Delete(ctx, h); err != nil {
		t.Fatalf("deleting a missing blob: %v", err)
	}
	n = 0
	g.List(ctx, func(string, int64) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}

// An append whose blob vanished before its reference was taken (a
// concurrent delete of the same content) fails with ErrBlobMissing and
// stores nothing: no message, no reference, counters unchanged.
func TestAppendBlobMissing(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	g := mongo.NewGridFS(s.Database(), t.TempDir())
	u, err := s.CreateUser(ctx, store.NewUser{Username: "vanish", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	data := bytes.Repeat([]byte("attachment\r\n"), 5000)
	h := putBlob(t, g, data)
	if err := g.Delete(ctx, h); err != nil { // the concurrent delete
		t.Fatal(err)
	}
	head := []byte("Subject: x\r\n\r\n")
	_, err = s.Append(ctx, u.ID, mb.ID, &store.NewMessage{Size: int64(len(head) + len(data)),
		Segments: []blob.Segment{{Inline: head, Size: int64(len(head))}, {Hash: h, Size: int64(len(data))}}})
	if !errors.Is(err, mongo.ErrBlobMissing) {
		t.Fatalf("Append with a vanished blob: %v, want ErrBlobMissing", err)
	}
	c, _ := s.Counters(ctx, u.ID, mb.ID)
	usr, _ := s.GetUser(ctx, u.ID)
	if c.Total != 0 || usr.StorageUsed != 0 {
		t.Fatalf("after the refused append: counters %+v, storage %d", c, usr.StorageUsed)
	}
	chk, err := s.CheckConsistency(ctx)
	if err != nil || len(chk.Problems) > 0 {
		t.Fatalf("consistency after the refused append: %v %v", err, chk.Problems)
	}
}
