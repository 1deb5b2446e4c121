package blob

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/blake2b"
)

func put(t *testing.T, s Store, data []byte) string {
	t.Helper()
	w, err := s.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	h, n, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Fatalf("size %d, want %d", n, len(data))
	}
	return h
}

func list(t *testing.T, s Store) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	if err := s.List(context.Background(), func(h string, n int64) error { m[h] = n; return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFileStoreContentAddressed(t *testing.T) { bothWriters(t, testFileStoreContentAddressed) }

func testFileStoreContentAddressed(t *testing.T) {
	ctx := context.Background()
	s, err := NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("attachment bytes\r\n"), 5000)
	h1 := put(t, s, data)
	h2 := put(t, s, data)
	sum := blake2b.Sum256(data)
	if h1 != hex.EncodeToString(sum[:]) || h1 != h2 {
		t.Fatalf("hashes %s %s, want BLAKE2b-256 %x", h1, h2, sum)
	}
	if got := list(t, s); len(got) != 1 || got[h1] != int64(len(data)) {
		t.Fatalf("list = %v, want one blob of %d bytes", got, len(data))
	}
	rc, err := s.Open(ctx, h1, 100)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data[100:]) {
		t.Fatal("Open at offset returned wrong bytes")
	}
	// Pinned (two commits, no release): Delete keeps the file.
	if err := s.Delete(ctx, h1); err != nil {
		t.Fatal(err)
	}
	if len(list(t, s)) != 1 {
		t.Fatal("Delete removed a pinned blob")
	}
	s.Release(h1, h2)
	if err := s.Delete(ctx, h1); err != nil {
		t.Fatal(err)
	}
	if len(list(t, s)) != 0 {
		t.Fatal("Delete left the blob after release")
	}
	if _, err := s.Open(ctx, h1, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open deleted blob: err = %v, want ErrNotFound", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) { bothWriters(t, testAbortLeavesNothing) }

func testAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, _ := NewFileStore(dir)
	w, _ := s.Create(context.Background())
	w.Write([]byte("partial"))
	w.Abort()
	if len(list(t, s)) != 0 {
		t.Fatal("aborted blob listed")
	}
	ents, _ := os.ReadDir(dir + "/tmp")
	if len(ents) != 0 {
		t.Fatalf("temp files left: %v", ents)
	}
}

func TestSegmentReaderRanges(t *testing.T) {
	ctx := context.Background()
	s, _ := NewFileStore(t.TempDir())
	rnd := rand.New(rand.NewSource(1))
	var whole []byte
	var segs []Segment
	for i := 0; i < 6; i++ {
		b := make([]byte, rnd.Intn(3000)+1)
		rnd.Read(b)
		whole = append(whole, b...)
		if i%2 == 0 {
			segs = append(segs, Segment{Inline: b, Size: int64(len(b))})
		} else {
			h := put(t, s, b)
			segs = append(segs, Segment{Hash: h, Size: int64(len(b))})
		}
	}
	for i := 0; i < 300; i++ {
		off := rnd.Int63n(int64(len(whole)) + 1)
		n := rnd.Int63n(int64(len(whole))-off+1) - 1 // -1 = to the end
		rc := Reader(ctx, s, segs, off, n)
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := whole[off:]
		if n >= 0 {
			want = whole[off : off+n]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("range off=%d n=%d: got %d bytes, want %d", off, n, len(got), len(want))
		}
	}
	// Asking past the end is an error, not a silent short read.
	if _, err := io.ReadAll(Reader(ctx, s, segs, 0, int64(len(whole))+1)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read past end: err = %v", err)
	}
}

func TestSegmentReaderRefusesCorruptSegments(t *testing.T) {
	ctx := context.Background()
	bad := [][]Segment{
		{{Inline: []byte("abc"), Size: 5}},          // inline shorter than its size
		{{Hash: strings.Repeat("a", 64), Size: 10}}, // blob segment, no store
	}
	for i, segs := range bad {
		if _, err := io.ReadAll(Reader(ctx, nil, segs, 0, -1)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("case %d: err = %v, want ErrCorrupt", i, err)
		}
	}
	s, _ := NewFileStore(t.TempDir())
	h := put(t, s, []byte("short"))
	if _, err := io.ReadAll(Reader(ctx, s, []Segment{{Hash: h, Size: 9}}, 0, -1)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("blob shorter than its segment: err = %v, want ErrCorrupt", err)
	}
	if _, err := io.ReadAll(Reader(ctx, s, nil, -1, 1)); err == nil {
		t.Error("negative offset accepted")
	}
}

// A commit of content already stored skips the temporary file's fsync and
// rename: it must still leave no temporary file and take its own pin, also
// when writers of the same content race each other.
func TestDuplicateCommitsPinAndLeaveNoTemp(t *testing.T) {
	bothWriters(t, testDuplicateCommitsPinAndLeaveNoTemp)
}

func testDuplicateCommitsPinAndLeaveNoTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("same attachment\r\n"), 4000)
	const n = 8
	hs := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			w, err := s.Create(ctx)
			if err != nil {
				errs <- err
				return
			}
			if _, err := w.Write(data); err != nil {
				errs <- err
				return
			}
			h, _, err := w.Commit()
			if err != nil {
				errs <- err
				return
			}
			hs <- h
		}()
	}
	var got []string
	for range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case h := <-hs:
			got = append(got, h)
		}
	}
	if ents, _ := os.ReadDir(dir + "/tmp"); len(ents) != 0 {
		t.Fatalf("temp files left: %d", len(ents))
	}
	// n pins: after n-1 releases Delete must still keep the blob.
	s.Release(got[1:]...)
	if err := s.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if l := list(t, s); len(l) != 1 || l[got[0]] != int64(len(data)) {
		t.Fatalf("after n-1 releases list = %v, want the blob kept", l)
	}
	s.Release(got[0])
	if err := s.Delete(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if len(list(t, s)) != 0 {
		t.Fatal("blob left after every pin was released")
	}
	// Stored again after deletion: a fresh write, readable.
	h := put(t, s, data)
	rc, err := s.Open(ctx, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, data) {
		t.Fatal("blob stored again reads back wrong")
	}
}

// bothWriters runs test on stores writing unnamed files (where the system
// has them) and on stores writing named temporary files.
func bothWriters(t *testing.T, test func(*testing.T)) {
	t.Run("unnamed", test)
	t.Run("named", func(t *testing.T) {
		noAnon = true
		defer func() { noAnon = false }()
		test(t)
	})
}

// TestUnnamedWhileWriting: on Linux a blob being written has no name, so a
// crash before Commit leaves nothing in the store to clean up.
func TestUnnamedWhileWriting(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s.anon {
		t.Skip("no O_TMPFILE here; named temporary files are used")
	}
	w, err := s.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("in progress\r\n"))
	if ents, _ := os.ReadDir(dir + "/tmp"); len(ents) != 0 {
		t.Fatalf("a blob being written has a name: %v", ents)
	}
	h, _, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if l := list(t, s); l[h] != int64(len("in progress\r\n")) {
		t.Fatalf("committed blob not listed: %v", l)
	}
	if ents, _ := os.ReadDir(dir + "/tmp"); len(ents) != 0 {
		t.Fatalf("left in tmp: %v", ents)
	}
}

// TestCommitReplacesWrongSize: a file under the hash name whose size is
// wrong (damaged) is not taken as the stored content; the next commit of
// that content replaces it, whichever kind of temporary file it wrote.
func TestCommitReplacesWrongSize(t *testing.T) { bothWriters(t, testCommitReplacesWrongSize) }

func testCommitReplacesWrongSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("attachment line\r\n"), 1000)
	h := put(t, s, data)
	s.Release(h)
	if err := os.Truncate(s.path(h), int64(len(data)/2)); err != nil {
		t.Fatal(err)
	}
	if h2 := put(t, s, data); h2 != h {
		t.Fatalf("hash %s, want %s", h2, h)
	}
	rc, err := s.Open(ctx, h, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, data) {
		t.Fatalf("read %d bytes after the second commit, want the %d written", len(b), len(data))
	}
	if ents, _ := os.ReadDir(dir + "/tmp"); len(ents) != 0 {
		t.Fatalf("left in tmp: %v", ents)
	}
}

// TestStaleTempRemoved: opening a store removes temporary files a crash
// left behind (older than staleTemp) and keeps younger ones, which may be
// another process's writes in progress.
func TestStaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFileStore(dir); err != nil {
		t.Fatal(err)
	}
	old, young := dir+"/tmp/blob-old", dir+"/tmp/blob-young"
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-staleTemp - time.Minute)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileStore(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there (%v)", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("young temporary file removed: %v", err)
	}
}
