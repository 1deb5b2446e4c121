package blob

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// FileStore keeps blobs as files under a directory, named by their hash:
// dir/ab/abcd... in stores created with the layout file (see layoutFile), and
// dir/ab/cd/abcd... in stores created before it, which keep that layout.
// A blob is written to an unnamed file (O_TMPFILE, where the file system
// has it; anon_linux.go) or else to a named one in dir/tmp, fsynced, and then
// linked or renamed into place; the directory holding the new name is
// fsynced before Commit returns (as is the parent of a directory Commit had
// to create). So a blob that exists under its hash name is always complete,
// and a Commit that returned has both the file and its directory entries on
// disk. (The link of an unnamed file changes its link count and the
// directory in one metadata operation, which the directory fsync makes
// durable on journaling file systems, as it does a rename.)
//
// Deletion and fresh writes of the same hash are ordered by an in-process
// pin set: a hash committed by Writer.Commit stays pinned until Release, and
// Delete leaves a pinned file alone (the pending store transaction is about
// to take a reference to it).
//
// Concurrency: s.mu only guards the maps (pins, syncing); no file system call
// is made while holding it, so concurrent commits fsync their files and
// directories in parallel. What keeps the duplicate shortcut durable is the
// syncing count: it is raised before a rename and lowered only after the
// directory fsync that follows it succeeded, so a writer that finds its
// content already stored while the count is up fsyncs the directory itself
// before reporting success.
type FileStore struct {
	dir    string
	tmp    string // dir/tmp
	levels int    // directory levels above a blob: 1 (dir/ab) or 2 (dir/ab/cd)
	// anon: blobs are written to unnamed files in tmp (probed at open).
	anon bool
	mu   sync.Mutex
	// pins counts outstanding Commit-without-Release per hash.
	pins map[string]int
	// syncing counts, per hash, the renames into place whose directory
	// fsync has not succeeded yet (a failed one stays counted for good:
	// that entry is never trusted to be durable).
	syncing map[string]int
	// made has bit i set when the directory of the blobs whose hash starts
	// with the hex digits of i (two or four of them, by levels) is known to
	// exist (created or found by this process). Directories are never
	// removed by the store; a rename that fails because one was removed
	// behind its back recreates it.
	made [1 << 16 / 64]atomic.Uint64
	// mkMu serialises the creation of directories (rare: once per
	// directory and process).
	mkMu sync.Mutex
}

var _ Store = (*FileStore)(nil)
var _ Releaser = (*FileStore)(nil)

// layoutFile, in the store directory, records the layout of a store created
// with it: "1" for dir/ab/<hash>. A store without it that holds any dir/ab
// directory has the original layout dir/ab/cd/<hash>.
//
// One level of 256 directories is enough for the file systems Eider runs on
// (ext4 and XFS index large directories), and a young store does not create
// a new directory, with its fsync, for nearly every blob as it does with
// 65536 leaf directories.
const layoutFile = "layout"

// NewFileStore opens (creating if needed) a file blob store rooted at dir.
// A new store gets the one-level layout; an existing one keeps its own.
func NewFileStore(dir string) (*FileStore, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	levels, err := openLayout(dir, tmp)
	if err != nil {
		return nil, err
	}
	removeStaleTemp(tmp, time.Now().Add(-staleTemp))
	return &FileStore{dir: dir, tmp: tmp, levels: levels, anon: !noAnon && probeAnon(tmp),
		pins: map[string]int{}, syncing: map[string]int{}}, nil
}

// staleTemp: a named temporary file older than this is left over from a
// crash (a Commit takes milliseconds) and removed when a store is opened.
// Files any younger may belong to another process writing to the same
// directory (an admin command opens the store while the server runs).
const staleTemp = 24 * time.Hour

// removeStaleTemp removes the files in tmp last modified before cutoff.
// Unnamed files (O_TMPFILE) need no cleanup: a crash frees them.
func removeStaleTemp(tmp string, cutoff time.Time) {
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(tmp, e.Name()))
		}
	}
}

// noAnon makes new stores use named temporary files (tests of that path).
var noAnon = false

// probeAnon reports whether unnamed files can be made in tmp and linked
// into a directory: the file system supports O_TMPFILE and /proc is there
// for linkat.
func probeAnon(tmp string) bool {
	f, err := openAnon(tmp)
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(tmp, fmt.Sprintf("probe-%d-%d", os.Getpid(), rand.Uint64()))
	if linkAnon(f, name) != nil {
		return false
	}
	os.Remove(name)
	return true
}

// Levels reports the directory levels above a blob file: 1 (dir/ab/hash) or
// 2 (dir/ab/cd/hash, stores created before the layout file).
func (s *FileStore) Levels() int { return s.levels }

// openLayout reads the store's layout, recording the one-level layout in a
// new store (durably, before any blob is written under it).
func openLayout(dir, tmp string) (int, error) {
	lf := filepath.Join(dir, layoutFile)
	b, err := os.ReadFile(lf)
	if err == nil {
		switch string(bytes.TrimSpace(b)) {
		case "1":
			return 1, nil
		case "2":
			return 2, nil
		}
		return 0, fmt.Errorf("blob: %s: unknown layout %q", lf, b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob: read layout: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("blob: open %s: %w", dir, err)
	}
	for _, e := range ents {
		if n := e.Name(); e.IsDir() && len(n) == 2 && validHex(n) {
			return 2, nil // a store of the original layout
		}
	}
	f, err := os.CreateTemp(tmp, "layout-*")
	if err != nil {
		return 0, fmt.Errorf("blob: write layout: %w", err)
	}
	_, err = f.WriteString("1\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), lf)
	}
	if err != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("blob: write layout: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, err
	}
	return 1, nil
}

func validHex(h string) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validHash(h string) bool {
	return len(h) == 64 && validHex(h)
}

func (s *FileStore) path(h string) string {
	if s.levels == 1 {
		return filepath.Join(s.dir, h[:2], h)
	}
	return filepath.Join(s.dir, h[:2], h[2:4], h)
}

// dirIndex is the number of the directory of a valid hash: its first two
// (one level) or four (two levels) hex digits.
func (s *FileStore) dirIndex(h string) int {
	v := 0
	for i := 0; i < 2*s.levels; i++ {
		c := h[i]
		if c <= '9' {
			v = v<<4 | int(c-'0')
		} else {
			v = v<<4 | int(c-'a'+10)
		}
	}
	return v
}

// ensureDir makes sure the directory of h exists, touching the file system
// only the first time this process needs it. A directory it creates has its
// entry made durable (its parent fsynced) before it is used.
func (s *FileStore) ensureDir(h, dir string) error {
	i := s.dirIndex(h)
	word, bit := &s.made[i/64], uint64(1)<<(i%64)
	if word.Load()&bit != 0 {
		return nil
	}
	// One creator at a time, so that a writer finding the directory
	// created by another one also finds its parent fsynced.
	s.mkMu.Lock()
	defer s.mkMu.Unlock()
	if word.Load()&bit != 0 {
		return nil
	}
	if err := mkdirDurable(dir, s.levels); err != nil {
		return err
	}
	word.Or(bit)
	return nil
}

// mkdirDurable creates dir and, up to levels-1 of its parents, the missing
// ones, fsyncing the parent of each one created. An existing directory is
// taken as it is (one this process created was fsynced into its parent
// before its mark was set).
func mkdirDurable(dir string, levels int) error {
	err := os.Mkdir(dir, 0o750)
	if errors.Is(err, fs.ErrNotExist) && levels > 1 {
		if err := mkdirDurable(filepath.Dir(dir), levels-1); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o750)
	}
	switch {
	case err == nil:
		return syncDir(filepath.Dir(dir))
	case errors.Is(err, fs.ErrExist):
		return nil
	}
	return fmt.Errorf("blob: mkdir: %w", err)
}

// forgetDir clears the "exists" mark of h's directory.
func (s *FileStore) forgetDir(h string) {
	i := s.dirIndex(h)
	s.made[i/64].And(^(uint64(1) << (i % 64)))
}

// Create starts a blob in a temporary file.
func (s *FileStore) Create(ctx context.Context) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.anon {
		f, err := openAnon(s.tmp)
		if err != nil {
			return nil, fmt.Errorf("blob: create: %w", err)
		}
		return &fileWriter{s: s, f: f, h: NewHash(), anon: true}, nil
	}
	f, err := os.CreateTemp(s.tmp, "blob-*")
	if err != nil {
		return nil, fmt.Errorf("blob: create temp: %w", err)
	}
	return &fileWriter{s: s, f: f, h: NewHash()}, nil
}

type fileWriter struct {
	s    *FileStore
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
	// anon: f is unnamed (openAnon) until Commit links it into place;
	// otherwise f is named in dir/tmp and renamed into place.
	anon bool
}

// discard closes the file and removes its temporary name, if it has one.
func (w *fileWriter) discard() {
	w.f.Close()
	if !w.anon {
		os.Remove(w.f.Name())
	}
}

// place gives the fsynced file the name dst: a link of the unnamed file
// (which stays open until then), else a rename of the closed temporary
// file. A file already named dst is replaced, as a rename replaces it.
func (w *fileWriter) place(dst string) error {
	if !w.anon {
		return os.Rename(w.f.Name(), dst)
	}
	err := linkAnon(w.f, dst)
	if errors.Is(err, fs.ErrExist) {
		// Stored meanwhile by a concurrent writer, or left of another
		// size (the duplicate check compares sizes): replace it
		// atomically through a temporary name.
		tmp := filepath.Join(w.s.tmp, fmt.Sprintf("blob-%d", rand.Uint64()))
		if err = linkAnon(w.f, tmp); err == nil {
			if err = os.Rename(tmp, dst); err != nil {
				os.Remove(tmp)
			}
		}
	}
	return err
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

// Commit pins the hash first, so that from then on no Delete can remove the
// file it looks at, then either finds the content stored (and durable) or
// fsyncs the temporary file, renames it into place and fsyncs the directory.
func (w *fileWriter) Commit() (string, int64, error) {
	if w.done {
		return "", 0, errors.New("blob: commit twice")
	}
	w.done = true
	s := w.s
	h := hex.EncodeToString(w.h.Sum(nil))
	dst := s.path(h)
	dir := filepath.Dir(dst)
	s.mu.Lock()
	s.pins[h]++
	s.mu.Unlock()
	fail := func(err error) (string, int64, error) {
		s.Release(h)
		return "", 0, err
	}
	// Content already stored (the same attachment or text delivered
	// again): the temporary file need not reach the disk at all.
	if fi, err := os.Stat(dst); err == nil && fi.Size() == w.n {
		w.discard()
		if err := s.awaitDurable(h, dir); err != nil {
			return fail(err)
		}
		return h, w.n, nil
	}
	if err := w.f.Sync(); err != nil {
		w.discard()
		return fail(fmt.Errorf("blob: sync: %w", err))
	}
	if !w.anon {
		if err := w.f.Close(); err != nil {
			os.Remove(w.f.Name())
			return fail(fmt.Errorf("blob: close: %w", err))
		}
	}
	if err := s.ensureDir(h, dir); err != nil {
		w.discard()
		return fail(err)
	}
	s.mu.Lock()
	s.syncing[h]++
	s.mu.Unlock()
	err := w.place(dst)
	if errors.Is(err, fs.ErrNotExist) {
		// The leaf directory was removed behind the store's back.
		s.forgetDir(h)
		if err = s.ensureDir(h, dir); err == nil {
			err = w.place(dst)
		}
	}
	if w.anon {
		w.f.Close() // linked (or not: then it is freed)
	} else if err != nil {
		os.Remove(w.f.Name())
	}
	if err != nil {
		s.mu.Lock()
		s.doneSyncingLocked(h)
		s.mu.Unlock()
		return fail(fmt.Errorf("blob: place: %w", err))
	}
	if err := syncDir(dir); err != nil {
		return fail(err) // h stays in syncing: never trusted as durable
	}
	s.mu.Lock()
	s.doneSyncingLocked(h)
	s.mu.Unlock()
	return h, w.n, nil
}

// awaitDurable is called when h was found stored: if a rename of h may not
// have reached the disk yet (its directory fsync is pending, or failed), it
// fsyncs the directory itself, which covers the entry it found.
func (s *FileStore) awaitDurable(h, dir string) error {
	s.mu.Lock()
	pending := s.syncing[h] > 0
	s.mu.Unlock()
	if !pending {
		return nil
	}
	return syncDir(dir)
}

func (s *FileStore) doneSyncingLocked(h string) {
	if s.syncing[h] <= 1 {
		delete(s.syncing, h)
	} else {
		s.syncing[h]--
	}
}

func (w *fileWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.discard()
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
