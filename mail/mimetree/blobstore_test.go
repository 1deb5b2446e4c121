package mimetree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"

	"github.com/eidermail/eider/mail/blob"
)

// memStore is an in-memory blob.Store test double (the real file store lives
// in mail/blob). It records pins, opens and aborts so tests can check that
// Parse and ReadRange use the interface as documented.
type memStore struct {
	mu      sync.Mutex
	blobs   map[string][]byte
	pinned  map[string]int
	opens   int
	aborts  int
	creates int
	failAt  int // when > 0, the failAt-th Create fails
}

func newMemStore() *memStore {
	return &memStore{blobs: map[string][]byte{}, pinned: map[string]int{}}
}

var errInjected = errors.New("injected failure")

func (s *memStore) Create(ctx context.Context) (blob.Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	if s.failAt > 0 && s.creates == s.failAt {
		return nil, errInjected
	}
	return &memWriter{s: s}, nil
}

func (s *memStore) Open(ctx context.Context, hash string, off int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[hash]
	if !ok {
		return nil, blob.ErrNotFound
	}
	s.opens++
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return io.NopCloser(bytes.NewReader(b[off:])), nil
}

func (s *memStore) Delete(ctx context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, hash)
	return nil
}

func (s *memStore) List(ctx context.Context, fn func(string, int64) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, b := range s.blobs {
		if err := fn(h, int64(len(b))); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) Release(hashes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hashes {
		s.pinned[h]--
	}
}

type memWriter struct {
	s    *memStore
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("write after commit")
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit() (string, int64, error) {
	if w.done {
		return "", 0, errors.New("double commit")
	}
	w.done = true
	sum := sha256.Sum256(w.buf.Bytes())
	h := hex.EncodeToString(sum[:])
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if _, ok := w.s.blobs[h]; !ok {
		w.s.blobs[h] = bytes.Clone(w.buf.Bytes())
	}
	w.s.pinned[h]++
	return h, int64(w.buf.Len()), nil
}

func (w *memWriter) Abort() {
	if !w.done {
		w.done = true
		w.s.mu.Lock()
		w.s.aborts++
		w.s.mu.Unlock()
	}
}
