package mimetree

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/blob"
)

func parseString(t testing.TB, raw string, store blob.Store, lim Limits) *Parsed {
	t.Helper()
	pr, err := Parse(context.Background(), strings.NewReader(raw), store, lim)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checkParsed(t, []byte(raw), store, pr)
	return pr
}

func readAll(t testing.TB, rc io.ReadCloser) []byte {
	t.Helper()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return b
}

// checkParsed asserts the invariants every parse must satisfy.
func checkParsed(t testing.TB, raw []byte, store blob.Store, pr *Parsed) {
	t.Helper()
	got := readAll(t, Rebuild(context.Background(), store, pr.Segments))
	if !bytes.Equal(got, raw) {
		t.Fatalf("Rebuild differs from input: got %d bytes, want %d\n got %q\nwant %q", len(got), len(raw), trunc(got), trunc(raw))
	}
	var total int64
	nblobs := 0
	for i, s := range pr.Segments {
		if s.Size <= 0 {
			t.Fatalf("segment %d has size %d", i, s.Size)
		}
		if (s.Hash == "") == (s.Inline == nil) {
			t.Fatalf("segment %d: exactly one of Inline and Hash must be set", i)
		}
		if s.Hash == "" && int64(len(s.Inline)) != s.Size {
			t.Fatalf("segment %d: inline len %d != size %d", i, len(s.Inline), s.Size)
		}
		if s.Hash != "" {
			if nblobs >= len(pr.Blobs) || pr.Blobs[nblobs] != s.Hash {
				t.Fatalf("segment %d: hash %s not listed in Blobs %v", i, s.Hash, pr.Blobs)
			}
			nblobs++
		}
		if i > 0 && s.Hash == "" && pr.Segments[i-1].Hash == "" {
			t.Fatalf("segments %d and %d are both inline (not merged)", i-1, i)
		}
		total += s.Size
	}
	if nblobs != len(pr.Blobs) {
		t.Fatalf("Blobs lists %d hashes, segments use %d", len(pr.Blobs), nblobs)
	}
	m := pr.Meta
	if total != int64(len(raw)) || m.Size != total {
		t.Fatalf("sizes: segments %d, meta %d, raw %d", total, m.Size, len(raw))
	}
	if m.Root.HeaderStart != 0 || m.Root.BodyEnd != m.Size {
		t.Fatalf("root range [%d,%d) want [0,%d)", m.Root.HeaderStart, m.Root.BodyEnd, m.Size)
	}
	checkPart(t, m, m.Root, 0, m.Size)
	// JSON round trip keeps what front-ends use.
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal meta: %v", err)
	}
	var back Meta
	if err := json.Unmarshal(j, &back); err != nil {
		t.Fatalf("unmarshal meta: %v", err)
	}
	if back.BodyStructure != m.BodyStructure || back.Size != m.Size {
		t.Fatalf("meta JSON round trip lost data")
	}
	forEachPart(m.Root, func(p *Part) {
		if p.Section == "" || (p.IsMultipart() && p != m.Root && p.HeaderStart != 0 && isEmbeddedRoot(m.Root, p)) {
			return // a multipart root of an attached message shares its part's section
		}
		q, err := back.FindPart(p.Section)
		if err != nil {
			t.Fatalf("FindPart(%q) after JSON: %v", p.Section, err)
		}
		if q.BodyStart != p.BodyStart || q.BodyEnd != p.BodyEnd {
			t.Fatalf("FindPart(%q) after JSON: range [%d,%d) want [%d,%d)", p.Section, q.BodyStart, q.BodyEnd, p.BodyStart, p.BodyEnd)
		}
	})
}

func checkPart(t testing.TB, m *Meta, p *Part, lo, hi int64) {
	t.Helper()
	if !(lo <= p.HeaderStart && p.HeaderStart <= p.HeaderEnd && p.HeaderEnd <= p.BodyStart && p.BodyStart <= p.BodyEnd && p.BodyEnd <= hi) {
		t.Fatalf("part %q offsets out of order: hs=%d he=%d bs=%d be=%d within [%d,%d]", p.Section, p.HeaderStart, p.HeaderEnd, p.BodyStart, p.BodyEnd, lo, hi)
	}
	if p.Size != p.BodyEnd-p.BodyStart || p.Lines < 0 || p.DecodedSize < 0 {
		t.Fatalf("part %q size %d lines %d dsize %d", p.Section, p.Size, p.Lines, p.DecodedSize)
	}
	if p.Section != "" {
		for _, spec := range []string{"", "MIME", "HEADER", "TEXT"} {
			off, n, err := m.SectionRange(p.Section, spec)
			if err != nil {
				continue
			}
			if off < 0 || n < 0 || off+n > m.Size {
				t.Fatalf("SectionRange(%q,%q) = %d+%d outside message of %d", p.Section, spec, off, n, m.Size)
			}
		}
	}
	prev := p.BodyStart
	for _, c := range p.Children {
		if c.HeaderStart < prev {
			t.Fatalf("child %q starts at %d before %d", c.Section, c.HeaderStart, prev)
		}
		checkPart(t, m, c, p.BodyStart, p.BodyEnd)
		prev = c.BodyEnd
	}
	if c := p.Message; c != nil {
		if c.HeaderStart != p.BodyStart || c.BodyEnd != p.BodyEnd {
			t.Fatalf("embedded message [%d,%d) != body of %q [%d,%d)", c.HeaderStart, c.BodyEnd, p.Section, p.BodyStart, p.BodyEnd)
		}
		checkPart(t, m, c, p.BodyStart, p.BodyEnd)
	}
}

func forEachPart(p *Part, fn func(*Part)) {
	fn(p)
	for _, c := range p.Children {
		forEachPart(c, fn)
	}
	if p.Message != nil {
		forEachPart(p.Message, fn)
	}
}

func isEmbeddedRoot(root, p *Part) bool {
	found := false
	forEachPart(root, func(q *Part) {
		if q.Message == p {
			found = true
		}
	})
	return found
}

func trunc(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

// sectionBytes returns BODY[section.spec] of raw.
func sectionBytes(t testing.TB, m *Meta, raw, section, spec string) string {
	t.Helper()
	off, n, err := m.SectionRange(section, spec)
	if err != nil {
		t.Fatalf("SectionRange(%q,%q): %v", section, spec, err)
	}
	return raw[off : off+n]
}
