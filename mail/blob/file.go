package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// FileStore keeps blobs as files under a directory: dir/ab/cd/abcd....
// Files are written to dir/tmp, fsynced, and renamed into place, so a blob
// that exists under its hash name is always complete.
//
// Deletion and fresh writes of the same hash are ordered by an in-process
// pin set: a hash committed by Writer.Commit stays pinned until Release, and
// Delete leaves a pinned file alone (the pending store transaction is about
// to take a reference to it).
type FileStore struct {
	dir string
	mu  sync.Mutex
	// pins counts outstanding Commit-without-Release per hash.
	pins map[string]int
}

var _ Store = (*FileStore)(nil)
var _ Releaser = (*FileStore)(nil)

// NewFileStore opens (creating if needed) a file blob store rooted at dir.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	return &FileStore{dir: dir, pins: map[string]int{}}, nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *FileStore) path(h string) string {
	return filepath.Join(s.dir, h[:2], h[2:4], h)
}

// Create starts a blob in a temporary file.
func (s *FileStore) Create(ctx context.Context) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-*")
	if err != nil {
		return nil, fmt.Errorf("blob: create temp: %w", err)
	}
	return &fileWriter{s: s, f: f, h: sha256.New()}, nil
}

type fileWriter struct {
	s    *FileStore
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

func (w *fileWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("blob: write after commit")
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("blob: write: %w", err)
	}
	return n, nil
}

func (w *fileWriter) Commit() (string, int64, error) {
	if w.done {
		return "", 0, errors.New("blob: commit twice")
	}
	w.done = true
	tmp := w.f.Name()
	sum := hex.EncodeToString(w.h.Sum(nil))
	dst := w.s.path(sum)
	// Content already stored (the same attachment or text delivered
	// again): the temporary file need not reach the disk at all. A file
	// under its hash name is durable: it was fsynced before its rename, and
	// the rename and its directory fsync happen under s.mu, so it cannot be
	// seen here before its directory entry is durable too.
	if w.s.pinIfStored(sum, dst, w.n) {
		w.f.Close()
		os.Remove(tmp)
		return sum, w.n, nil
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: sync: %w", err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: close: %w", err)
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.pins[sum]++
	if fi, err := os.Stat(dst); err == nil && fi.Size() == w.n {
		os.Remove(tmp) // stored meanwhile by another writer
		return sum, w.n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		w.s.unpinLocked(sum)
		os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: mkdir: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		w.s.unpinLocked(sum)
		os.Remove(tmp)
		return "", 0, fmt.Errorf("blob: rename: %w", err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		w.s.unpinLocked(sum)
		return "", 0, err
	}
	return sum, w.n, nil
}

// pinIfStored pins h and reports true if the blob is already stored at dst
// with size n.
func (s *FileStore) pinIfStored(h, dst string, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fi, err := os.Stat(dst); err != nil || fi.Size() != n {
		return false
	}
	s.pins[h]++
	return true
}

func (w *fileWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blob: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blob: sync dir: %w", err)
	}
	return nil
}

func (s *FileStore) unpinLocked(h string) {
	if s.pins[h] <= 1 {
		delete(s.pins, h)
	} else {
		s.pins[h]--
	}
}

// Release unpins hashes returned by Commit.
func (s *FileStore) Release(hashes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hashes {
		s.unpinLocked(h)
	}
}

// Open opens a blob positioned at off.
func (s *FileStore) Open(ctx context.Context, h string, off int64) (io.ReadCloser, error) {
	if !validHash(h) {
		return nil, fmt.Errorf("blob: open %q: %w", h, ErrNotFound)
	}
	f, err := os.Open(s.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: open %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", h, err)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("blob: seek %s: %w", h, err)
		}
	}
	return f, nil
}

// Delete removes a blob unless it is pinned by a pending write.
func (s *FileStore) Delete(ctx context.Context, h string) error {
	if !validHash(h) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pins[h] > 0 {
		return nil
	}
	err := os.Remove(s.path(h))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", h, err)
	}
	return nil
}

// List calls fn for every stored blob.
func (s *FileStore) List(ctx context.Context, fn func(hash string, size int64) error) error {
	return filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "tmp" {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		name := d.Name()
		if !validHash(name) || p != s.path(name) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return fn(name, fi.Size())
	})
}

// ErrCorrupt is returned by Reader when a segment list does not match what
// it describes (an inline segment shorter than its Size, a blob shorter than
// its segment, a blob segment with no store to read it from).
var ErrCorrupt = errors.New("blob: corrupt segment list")

// Reader returns the raw bytes [off, off+n) of a message stored as segs
// (n < 0: to the end). Blob segments are opened at the offset needed and
// streamed, never held whole. Asking for bytes past the end, or reading
// inconsistent segments, is an error reported by Read.
func Reader(ctx context.Context, s Store, segs []Segment, off, n int64) io.ReadCloser {
	if off < 0 {
		return &segReader{err: fmt.Errorf("blob: invalid range offset %d", off)}
	}
	return &segReader{ctx: ctx, s: s, segs: segs, off: off, left: n}
}

type segReader struct {
	ctx  context.Context
	s    Store
	segs []Segment
	off  int64 // offset into the remaining segments
	left int64 // bytes still to return; < 0 = unlimited
	cur  io.ReadCloser
	// curLeft is what the current segment still owes.
	curLeft int64
	err     error
}

func (r *segReader) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.left == 0 {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if r.left > 0 && int64(len(p)) > r.left {
			p = p[:r.left]
		}
		if r.cur != nil {
			if int64(len(p)) > r.curLeft {
				p = p[:r.curLeft]
			}
			n, err := r.cur.Read(p)
			r.curLeft -= int64(n)
			if r.left > 0 {
				r.left -= int64(n)
			}
			if r.curLeft == 0 {
				r.cur.Close()
				r.cur = nil
				return n, nil
			}
			if err == io.EOF {
				err = fmt.Errorf("%w: segment ends %d bytes early", ErrCorrupt, r.curLeft)
			}
			if err != nil {
				r.err = err
			}
			return n, err
		}
		if len(r.segs) == 0 {
			if r.left > 0 {
				r.err = io.ErrUnexpectedEOF
				return 0, r.err
			}
			return 0, io.EOF
		}
		seg := r.segs[0]
		if r.off >= seg.Size {
			r.off -= seg.Size
			r.segs = r.segs[1:]
			continue
		}
		r.segs = r.segs[1:]
		r.curLeft = seg.Size - r.off
		switch {
		case seg.Hash == "":
			if int64(len(seg.Inline)) != seg.Size {
				r.err = fmt.Errorf("%w: inline segment of %d bytes says %d", ErrCorrupt, len(seg.Inline), seg.Size)
				return 0, r.err
			}
			r.cur = io.NopCloser(bytes.NewReader(seg.Inline[r.off:]))
		case r.s == nil:
			r.err = fmt.Errorf("%w: segment references blob %s but no blob store was given", ErrCorrupt, seg.Hash)
			return 0, r.err
		default:
			if err := r.ctx.Err(); err != nil {
				r.err = err
				return 0, err
			}
			rc, err := r.s.Open(r.ctx, seg.Hash, r.off)
			if err != nil {
				r.err = err
				return 0, err
			}
			r.cur = rc
		}
		r.off = 0
	}
}

func (r *segReader) Close() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	r.err = errors.New("blob: read after close")
	return nil
}
