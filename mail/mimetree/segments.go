package mimetree

import (
	"bufio"
	"context"
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
var ErrCorrupt = blob.ErrCorrupt

// ReadRange streams bytes [off, off+n) of the message described by segs. The
// range is clipped to the message; blobs are opened at the needed offset and
// streamed, never read whole (see blob.Reader). Errors (including a negative
// off or n) are reported by Read.
func ReadRange(ctx context.Context, blobs blob.Store, segs []blob.Segment, off, n int64) io.ReadCloser {
	if off < 0 || n < 0 {
		return blob.Reader(ctx, blobs, segs, -1, 0)
	}
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	off = min(off, total)
	return blob.Reader(ctx, blobs, segs, off, min(n, total-off))
}
