package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/blake2b"
)

func readBlob(t *testing.T, s Store, h string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), h, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A new store records the one-level layout and keeps it when reopened.
func TestNewStoreOneLevelLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Levels() != 1 {
		t.Fatalf("new store has %d levels, want 1", s.Levels())
	}
	data := bytes.Repeat([]byte("one level\r\n"), 3000)
	h := put(t, s, data)
	if _, err := os.Stat(filepath.Join(dir, h[:2], h)); err != nil {
		t.Fatalf("blob not at dir/ab/hash: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, layoutFile)); err != nil || string(b) != "1\n" {
		t.Fatalf("layout file = %q, %v", b, err)
	}
	s2, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Levels() != 1 || !bytes.Equal(readBlob(t, s2, h), data) {
		t.Fatalf("reopened store: %d levels", s2.Levels())
	}
	if got := list(t, s2); len(got) != 1 || got[h] != int64(len(data)) {
		t.Fatalf("list = %v", got)
	}
	if err := s2.Delete(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if len(list(t, s2)) != 0 {
		t.Fatal("Delete left the blob")
	}
}

// A store written by the original layout (dir/ab/cd/hash, no layout file)
// keeps it: its blobs are found, listed, de-duplicated and deleted, and new
// blobs go next to them.
func TestTwoLevelStoreKeepsLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := bytes.Repeat([]byte("stored by an older version\r\n"), 1000)
	sum := sha256.Sum256(old)
	oh := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(filepath.Join(dir, oh[:2], oh[2:4]), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, oh[:2], oh[2:4], oh), old, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Levels() != 2 {
		t.Fatalf("existing store has %d levels, want 2", s.Levels())
	}
	if _, err := os.Stat(filepath.Join(dir, layoutFile)); !os.IsNotExist(err) {
		t.Fatalf("layout file written into an existing store: %v", err)
	}
	if !bytes.Equal(readBlob(t, s, oh), old) {
		t.Fatal("old blob reads back wrong")
	}
	// The old blob is named by SHA-256; the same content written now is
	// named by BLAKE2b-256 and stored beside it, once.
	bsum := blake2b.Sum256(old)
	bh := hex.EncodeToString(bsum[:])
	for range 2 {
		if h := put(t, s, old); h != bh {
			t.Fatalf("same content got hash %s, want BLAKE2b-256 %s", h, bh)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, bh[:2], bh[2:4], bh)); err != nil {
		t.Fatalf("blob not at dir/ab/cd/hash: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, bh[:2])); len(ents) != 1 {
		t.Fatalf("duplicate stored again at the top level: %d entries in dir/ab", len(ents))
	}
	fresh := bytes.Repeat([]byte("new blob\r\n"), 2000)
	nh := put(t, s, fresh)
	if _, err := os.Stat(filepath.Join(dir, nh[:2], nh[2:4], nh)); err != nil {
		t.Fatalf("new blob not at dir/ab/cd/hash: %v", err)
	}
	if got := list(t, s); len(got) != 3 || got[oh] != int64(len(old)) || got[bh] != int64(len(old)) || got[nh] != int64(len(fresh)) {
		t.Fatalf("list = %v", got)
	}
	s.Release(oh, bh, bh, nh)
	for _, h := range []string{oh, bh, nh} {
		if err := s.Delete(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if len(list(t, s)) != 0 {
		t.Fatal("Delete left blobs")
	}
}

func TestUnknownLayoutRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, layoutFile), []byte("7\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileStore(dir); err == nil {
		t.Fatal("store with an unknown layout opened")
	}
}

// The store remembers the directories it made; one removed behind its back
// is made again instead of failing the commit.
func TestCommitRecreatesRemovedDirectory(t *testing.T) {
	bothWriters(t, testCommitRecreatesRemovedDirectory)
}

func testCommitRecreatesRemovedDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("again\r\n"), 3000)
	h := put(t, s, data)
	s.Release(h)
	if err := s.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, h[:2])); err != nil {
		t.Fatal(err)
	}
	if h2 := put(t, s, data); h2 != h || !bytes.Equal(readBlob(t, s, h), data) {
		t.Fatal("blob not stored again after its directory was removed")
	}
}

// Concurrent writers, some of them of the same content: every commit
// returns the right hash, every blob reads back, each is stored once, and
// no temporary file is left.
func TestConcurrentCommits(t *testing.T) { bothWriters(t, testConcurrentCommits) }

func testConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 10, 20
	content := func(w, i int) []byte {
		// Writers 8 and 9 write the same blobs as writers 0 and 1.
		return bytes.Repeat([]byte(fmt.Sprintf("blob %d/%d\r\n", w%8, i)), 2000)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	hashes := make([][]string, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := content(w, i)
				bw, err := s.Create(context.Background())
				if err != nil {
					errs <- err
					return
				}
				bw.Write(data)
				h, n, err := bw.Commit()
				sum := blake2b.Sum256(data)
				if err != nil || h != hex.EncodeToString(sum[:]) || n != int64(len(data)) {
					errs <- fmt.Errorf("commit %d/%d: %s %d %v", w, i, h, n, err)
					return
				}
				hashes[w] = append(hashes[w], h)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := list(t, s)
	if len(got) != 8*each {
		t.Fatalf("%d blobs stored, want %d", len(got), 8*each)
	}
	for w := range writers {
		for i, h := range hashes[w] {
			if !bytes.Equal(readBlob(t, s, h), content(w, i)) {
				t.Fatalf("blob %d/%d reads back wrong", w, i)
			}
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("temp files left: %d", len(ents))
	}
	if len(s.syncing) != 0 {
		t.Fatalf("syncing not drained: %v", s.syncing)
	}
	// Two pins on a shared blob: one release still keeps it.
	h := hashes[0][0]
	s.Release(h)
	if err := s.Delete(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if _, ok := list(t, s)[h]; !ok {
		t.Fatal("blob with a pin left was deleted")
	}
}
