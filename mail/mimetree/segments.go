package mimetree

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/eidermail/eider/mail/blob"
)

// segWriter builds the segment list while the parser streams the message.
// Structural bytes (headers, delimiter lines) go straight into the pending
// inline buffer; "region" bytes (leaf bodies, preambles, epilogues) are
// buffered up to inlineMax and then spill into a blob.Writer.
type segWriter struct {
	ctx       context.Context
	store     blob.Store
	inlineMax int64

	segs   []blob.Segment
	pend   []byte // inline bytes not yet turned into a segment
	hashes []string

	inRegion bool
	reg      []byte // region bytes while still small
	w        blob.Writer
	bw       *bufio.Writer
	wn       int64
}

func (s *segWriter) write(b []byte) error {
	if !s.inRegion {
		s.pend = append(s.pend, b...)
		return nil
	}
	if s.w != nil {
		n, err := s.bw.Write(b)
		s.wn += int64(n)
		return err
	}
	if s.store != nil && int64(len(s.reg)+len(b)) > s.inlineMax {
		w, err := s.store.Create(s.ctx)
		if err != nil {
			return fmt.Errorf("mimetree: create blob: %w", err)
		}
		s.w = w
		if s.bw == nil {
			s.bw = bufio.NewWriterSize(w, 32<<10)
		} else {
			s.bw.Reset(w)
		}
		s.wn = 0
		if _, err := s.bw.Write(s.reg); err != nil {
			return err
		}
		s.wn += int64(len(s.reg))
		s.reg = s.reg[:0]
		n, err := s.bw.Write(b)
		s.wn += int64(n)
		return err
	}
	s.reg = append(s.reg, b...)
	return nil
}

func (s *segWriter) begin() { s.inRegion = true }

// end closes the current region: a small one joins the inline bytes, a large
// one is committed as a blob segment.
func (s *segWriter) end() error {
	s.inRegion = false
	if s.w == nil {
		s.pend = append(s.pend, s.reg...)
		s.reg = s.reg[:0]
		return nil
	}
	w := s.w
	s.w = nil
	if err := s.bw.Flush(); err != nil {
		w.Abort()
		return fmt.Errorf("mimetree: write blob: %w", err)
	}
	hash, size, err := w.Commit()
	if err != nil {
		w.Abort()
		return fmt.Errorf("mimetree: commit blob: %w", err)
	}
	s.hashes = append(s.hashes, hash)
	if size != s.wn {
		return fmt.Errorf("mimetree: blob %s has %d bytes, wrote %d", hash, size, s.wn)
	}
	s.flushPend()
	s.segs = append(s.segs, blob.Segment{Hash: hash, Size: size})
	return nil
}

func (s *segWriter) flushPend() {
	if len(s.pend) == 0 {
		return
	}
	s.segs = append(s.segs, blob.Segment{Inline: s.pend, Size: int64(len(s.pend))})
	s.pend = nil
}

func (s *segWriter) finish() []blob.Segment {
	s.flushPend()
	return s.segs
}

// abort discards an open blob writer and unpins committed blobs (they stay
// for the caller's garbage collection).
func (s *segWriter) abort() {
	if s.w != nil {
		s.w.Abort()
		s.w = nil
	}
	if r, ok := s.store.(blob.Releaser); ok && len(s.hashes) > 0 {
		r.Release(s.hashes...)
	}
}

// Rebuild returns the whole raw message described by segs.
func Rebuild(ctx context.Context, blobs blob.Store, segs []blob.Segment) io.ReadCloser {
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	return ReadRange(ctx, blobs, segs, 0, total)
}

// ErrCorrupt is returned by readers when segments are inconsistent (an inline
// segment shorter than its Size, a blob shorter than its segment).
var ErrCorrupt = errors.New("mimetree: corrupt segment list")

// ReadRange streams bytes [off, off+n) of the message described by segs. The
// range is clipped to the message; blobs are opened at the needed offset and
// streamed, never read whole. Errors (including a negative off or n) are
// reported by Read.
func ReadRange(ctx context.Context, blobs blob.Store, segs []blob.Segment, off, n int64) io.ReadCloser {
	if off < 0 || n < 0 {
		return &rangeReader{err: fmt.Errorf("mimetree: invalid range %d+%d", off, n)}
	}
	rr := &rangeReader{ctx: ctx, store: blobs, segs: segs, left: n}
	pos := int64(0)
	for rr.idx = 0; rr.idx < len(segs); rr.idx++ {
		sz := segs[rr.idx].Size
		if off < pos+sz {
			rr.segOff = off - pos
			return rr
		}
		pos += sz
	}
	rr.left = 0 // off at or past the end
	return rr
}

type rangeReader struct {
	ctx    context.Context
	store  blob.Store
	segs   []blob.Segment
	idx    int
	segOff int64
	left   int64
	cur    io.ReadCloser
	err    error
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for r.left > 0 && r.idx < len(r.segs) {
		seg := r.segs[r.idx]
		avail := seg.Size - r.segOff
		if avail <= 0 {
			r.next()
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		take := min(int64(len(p)), avail, r.left)
		var got int
		if seg.Hash == "" {
			if r.segOff+take > int64(len(seg.Inline)) {
				r.err = ErrCorrupt
				return 0, r.err
			}
			got = copy(p, seg.Inline[r.segOff:r.segOff+take])
		} else {
			if r.cur == nil {
				if r.store == nil {
					r.err = fmt.Errorf("mimetree: segment references blob %s but no blob store given", seg.Hash)
					return 0, r.err
				}
				if err := r.ctx.Err(); err != nil {
					r.err = err
					return 0, err
				}
				rc, err := r.store.Open(r.ctx, seg.Hash, r.segOff)
				if err != nil {
					r.err = fmt.Errorf("mimetree: open blob %s: %w", seg.Hash, err)
					return 0, r.err
				}
				r.cur = rc
			}
			var err error
			got, err = r.cur.Read(p[:take])
			if got == 0 && err != nil {
				if err == io.EOF {
					err = fmt.Errorf("%w: blob %s ends early", ErrCorrupt, seg.Hash)
				}
				r.err = err
				return 0, err
			}
		}
		r.segOff += int64(got)
		r.left -= int64(got)
		if r.segOff >= seg.Size {
			r.next()
		}
		return got, nil
	}
	return 0, io.EOF
}

func (r *rangeReader) next() {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	r.idx++
	r.segOff = 0
}

func (r *rangeReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}
