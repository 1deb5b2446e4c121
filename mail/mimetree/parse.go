// Package mimetree parses an RFC 5322 / MIME message once, at delivery, into
// the storage segments that rebuild it byte for byte (large leaf bodies in
// the blob store, everything else inline) and the metadata the IMAP, POP3 and
// REST front-ends serve without parsing again (offsets of every part,
// ENVELOPE, BODYSTRUCTURE, decoded headers, text, attachments).
//
// The parser streams: it reads line by line, keeps a running byte offset and
// never holds a large body in memory. It never rejects ugly mail; only the
// size limits (Limits.MaxSize, Limits.MaxHeader), I/O errors and the context
// make Parse fail.
package mimetree

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/eidermail/eider/mail/blob"
)

// Limits bound the work and memory of Parse. A zero field means the default.
type Limits struct {
	MaxSize   int64 // whole message bytes (default 64 MiB); exceeded: *LimitError
	MaxHeader int64 // bytes of one header block (default 1 MiB); exceeded: *LimitError
	// MaxDepth is the MIME nesting depth (default 32). Deeper multipart and
	// message parts are kept as opaque leaves, not an error.
	MaxDepth int
	// MaxParts is the number of parts (default 5000). Beyond it, the rest of
	// a multipart stays as opaque bytes after its last child, not an error.
	MaxParts int
	// InlineMax: bodies (and preambles/epilogues) larger than this go to the
	// blob store (default 16 KiB).
	InlineMax int64
	// MaxTextBytes caps the decoded text kept for indexing (default 1 MiB),
	// separately for Meta.Text and for Meta.HTML.
	MaxTextBytes int64
}

// DefaultLimits returns the default limits.
func DefaultLimits() Limits {
	return Limits{
		MaxSize:      64 << 20,
		MaxHeader:    1 << 20,
		MaxDepth:     32,
		MaxParts:     5000,
		InlineMax:    16 << 10,
		MaxTextBytes: 1 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSize <= 0 {
		l.MaxSize = d.MaxSize
	}
	if l.MaxHeader <= 0 {
		l.MaxHeader = d.MaxHeader
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.InlineMax <= 0 {
		l.InlineMax = d.InlineMax
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	return l
}

// LimitError reports an exceeded size limit ("MaxSize" or "MaxHeader").
type LimitError struct {
	Limit string
	Max   int64
}

func (e *LimitError) Error() string {
	what := "message size"
	if e.Limit == "MaxHeader" {
		what = "header size"
	}
	return fmt.Sprintf("%s exceeds limit of %d bytes", what, e.Max)
}

// Parsed is the result of Parse.
type Parsed struct {
	// Segments, concatenated in order, are exactly the raw input.
	Segments []blob.Segment
	// Blobs lists the hash of every blob segment, in segment order (a hash
	// repeats when a message holds the same large body twice). They are
	// committed and, for stores implementing blob.Releaser, pinned: the
	// caller takes its references and then releases them.
	Blobs []string
	Meta  *Meta
}

const readBufSize = 64 << 10

// readers recycles the 64 KiB line buffers between parses.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

type parser struct {
	ctx context.Context
	lim Limits
	br  *bufio.Reader
	sw  *segWriter

	off        int64 // bytes consumed
	nl         int64 // LF bytes consumed
	b1, b2, b3 byte  // last three bytes consumed (b1 last)
	bol        bool  // next chunk starts a line
	cur        []byte
	curOK      bool
	curFull    bool // cur is a piece of a line longer than the read buffer
	eof        bool
	err        error
	ctxAt      int64

	bounds []string // open multipart boundaries, outermost first
	nparts int
	hbuf   []byte

	embedded int // > 0 while inside an attached message
	topHdr   []field

	plain, html         []string
	plainLeft, htmlLeft int64
}

// Parse reads a whole message from r, storing large bodies in blobs (nil:
// everything inline), and returns its segments and metadata.
//
// On error, an uncommitted blob is aborted; blobs already committed are left
// for garbage collection (and released when the store pins them).
func Parse(ctx context.Context, r io.Reader, blobs blob.Store, lim Limits) (*Parsed, error) {
	lim = lim.withDefaults()
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	p := &parser{
		ctx: ctx,
		lim: lim,
		br:  br,
		sw:  &segWriter{ctx: ctx, store: blobs, inlineMax: lim.InlineMax},
		bol: true,

		plainLeft: lim.MaxTextBytes,
		htmlLeft:  lim.MaxTextBytes,
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root := &Part{}
	p.entity(root, 0, false, true)
	if p.err == nil {
		// Defensive: the top level has no boundaries, so everything is
		// consumed; keep any remainder inline anyway.
		for {
			if _, ok := p.peek(); !ok {
				break
			}
			p.consume()
		}
	}
	if p.err != nil {
		p.sw.abort()
		return nil, p.err
	}
	segs := p.sw.finish()
	meta := p.buildMeta(root)
	return &Parsed{Segments: segs, Blobs: p.sw.hashes, Meta: meta}, nil
}

// peek returns the next unconsumed chunk: a line including its LF, or a
// piece of a longer line, or the last bytes before EOF.
func (p *parser) peek() ([]byte, bool) {
	if p.curOK {
		return p.cur, true
	}
	if p.eof || p.err != nil {
		return nil, false
	}
	line, err := p.br.ReadSlice('\n')
	full := false
	switch err {
	case nil:
	case bufio.ErrBufferFull:
		full = true
	case io.EOF:
		if len(line) == 0 {
			p.eof = true
			return nil, false
		}
	default:
		p.err = err
		return nil, false
	}
	if p.off+int64(len(line)) > p.lim.MaxSize {
		p.err = &LimitError{Limit: "MaxSize", Max: p.lim.MaxSize}
		return nil, false
	}
	p.cur, p.curOK, p.curFull = line, true, full
	return line, true
}

// consume accounts for the peeked chunk and hands it to the segment writer.
func (p *parser) consume() {
	c := p.cur
	p.cur, p.curOK = nil, false
	if err := p.sw.write(c); err != nil && p.err == nil {
		p.err = err
	}
	n := len(c)
	p.off += int64(n)
	switch {
	case n >= 3:
		p.b3, p.b2, p.b1 = c[n-3], c[n-2], c[n-1]
	case n == 2:
		p.b3, p.b2, p.b1 = p.b1, c[0], c[1]
	case n == 1:
		p.b3, p.b2, p.b1 = p.b2, p.b1, c[0]
	}
	p.bol = n > 0 && c[n-1] == '\n'
	if p.bol {
		p.nl++
	}
	if p.off-p.ctxAt >= 1<<20 {
		p.ctxAt = p.off
		if err := p.ctx.Err(); err != nil && p.err == nil {
			p.err = err
		}
	}
}

// match reports whether the chunk is a delimiter line of an open multipart
// (RFC 2046 §5.1.1): "--" boundary, optionally "--" (close delimiter), then
// only transport padding (linear whitespace) before the line break. The
// innermost boundary wins; an inner part ends when any enclosing boundary
// appears. Returns the level in p.bounds, or -1.
func (p *parser) match(line []byte) (level int, closing bool) {
	if !p.bol || p.curFull || len(p.bounds) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return -1, false
	}
	for i := len(p.bounds) - 1; i >= 0; i-- {
		b := p.bounds[i]
		if len(line) < 2+len(b) || string(line[2:2+len(b)]) != b {
			continue
		}
		rest := line[2+len(b):]
		if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
			// Close delimiter; anything after it is tolerated.
			return i, true
		}
		pad := true
		for _, c := range rest {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				pad = false
				break
			}
		}
		if pad {
			return i, false
		}
	}
	return -1, false
}

func isBlank(line []byte) bool {
	return (len(line) == 1 && line[0] == '\n') || (len(line) == 2 && line[0] == '\r' && line[1] == '\n')
}

// readHeader consumes a header block up to and including the blank line
// (RFC 5322 §2.1). A header without a blank line ends at EOF or at a
// delimiter line of an enclosing multipart; the body is then empty.
func (p *parser) readHeader() []field {
	p.hbuf = p.hbuf[:0]
	for {
		line, ok := p.peek()
		if !ok {
			break
		}
		if p.bol {
			if lv, _ := p.match(line); lv >= 0 {
				break
			}
			if isBlank(line) {
				p.consume()
				break
			}
		}
		if int64(len(p.hbuf)+len(line)) > p.lim.MaxHeader {
			p.err = &LimitError{Limit: "MaxHeader", Max: p.lim.MaxHeader}
			return nil
		}
		p.hbuf = append(p.hbuf, line...)
		p.consume()
	}
	return parseFields(p.hbuf)
}

// entity parses one MIME entity (header + body) starting at the current
// offset. digest selects the multipart/digest default content type; isMsg
// marks a message root (top level or attached message).
func (p *parser) entity(part *Part, depth int, digest, isMsg bool) {
	part.HeaderStart = p.off
	fields := p.readHeader()
	if p.err != nil {
		return
	}
	part.HeaderEnd = p.off
	part.BodyStart = p.off
	part.nlStart = p.nl
	p.nparts++
	part.applyHeader(fields, digest)
	if isMsg {
		part.env = envelope(fields)
		if depth == 0 {
			p.topHdr = fields
		}
	}
	switch {
	case part.Type == "multipart" && part.Params["boundary"] != "" && depth < p.lim.MaxDepth && p.nparts < p.lim.MaxParts:
		part.kind = kindContainer
		p.multipart(part, depth)
	case isMessageType(part) && depth < p.lim.MaxDepth && p.nparts < p.lim.MaxParts:
		// RFC 2046 §5.2.1: the body of message/rfc822 is a complete message.
		part.kind = kindAttachment
		m := &Part{}
		p.embedded++
		p.entity(m, depth+1, false, true)
		p.embedded--
		part.Message = m
		part.Envelope = m.env
	default:
		if part.Type == "multipart" || isMessageType(part) {
			part.Opaque = true
		}
		p.leaf(part)
	}
	p.endBody(part)
}

// isMessageType: message/rfc822 and message/global (RFC 6532 §3.7) with an
// identity transfer encoding (RFC 2046 §5.2.1 forbids others; an encoded one
// is kept opaque).
func isMessageType(part *Part) bool {
	if part.Type != "message" || (part.Subtype != "rfc822" && part.Subtype != "global") {
		return false
	}
	switch part.Encoding {
	case "7bit", "8bit", "binary":
		return true
	}
	return false
}

// endBody sets BodyEnd, Size and Lines once the body's last byte was
// consumed. When the body is ended by a delimiter line, the line break before
// it belongs to the delimiter (RFC 2046 §5.1.1) and is excluded.
func (p *parser) endBody(part *Part) {
	end := p.off
	lf := p.nl - part.nlStart
	if p.err == nil && end > part.BodyStart && p.b1 == '\n' {
		if line, ok := p.peek(); ok {
			if lv, _ := p.match(line); lv >= 0 && !p.childEndsAt(part, end) {
				eol := int64(1)
				if end-2 >= part.BodyStart && p.b2 == '\r' {
					eol = 2
				}
				end -= eol
				lf--
			}
		}
	}
	part.BodyEnd = end
	part.Size = end - part.BodyStart
	// Lines counts the line breaks in the body range, as Dovecot does: a
	// last line without a line break (before a delimiter, or at EOF) does
	// not count.
	part.Lines = lf
	if part.Message != nil {
		part.DecodedSize = part.Size
	}
}

// childEndsAt reports whether the last child (or embedded message) of part
// ends at off: then the line break before the next delimiter is the one of a
// delimiter line that starts that child ("--a\n--b"), and it stays in the
// part so that the child lies inside it.
func (p *parser) childEndsAt(part *Part, off int64) bool {
	if part.Message != nil {
		return part.Message.BodyEnd == off
	}
	if n := len(part.Children); n > 0 {
		return part.Children[n-1].BodyEnd == off
	}
	return false
}

// multipart parses the body of a multipart entity (RFC 2046 §5.1.1):
// preamble, body parts between delimiter lines, close delimiter, epilogue.
// A missing close delimiter ends the multipart at an enclosing delimiter or
// EOF.
func (p *parser) multipart(part *Part, depth int) {
	lvl := len(p.bounds)
	p.bounds = append(p.bounds, part.Params["boundary"])
	defer func() { p.bounds = p.bounds[:lvl] }()
	digest := part.Subtype == "digest"
	related := part.Subtype == "related"

	p.region(func(int, bool) bool { return true }) // preamble
	for p.err == nil {
		line, ok := p.peek()
		if !ok {
			return
		}
		lv, closing := p.match(line)
		if lv != lvl {
			return // an enclosing delimiter ends this multipart too
		}
		p.consume() // delimiter line (with the CRLF before it, structurally inline)
		if closing {
			// Epilogue: up to an enclosing delimiter or EOF. This boundary is
			// closed: it no longer delimits anything (an enclosing multipart
			// may reuse the same boundary string).
			p.bounds = p.bounds[:lvl]
			p.region(func(int, bool) bool { return true })
			return
		}
		if p.nparts >= p.lim.MaxParts {
			part.Truncated = true
			p.region(func(l int, c bool) bool { return l < lvl || c })
			continue
		}
		child := &Part{}
		p.entity(child, depth+1, digest, false)
		if related && child.ID != "" && child.kind == kindAttachment {
			child.kind = kindRelated
		}
		part.Children = append(part.Children, child)
	}
}

// region consumes opaque lines (preamble, epilogue, skipped parts) into a
// spillable region until stop accepts a delimiter line, or EOF.
func (p *parser) region(stop func(level int, closing bool) bool) {
	p.sw.begin()
	for {
		line, ok := p.peek()
		if !ok {
			break
		}
		if lv, c := p.match(line); lv >= 0 && stop(lv, c) {
			break
		}
		p.consume()
	}
	if err := p.sw.end(); err != nil && p.err == nil {
		p.err = err
	}
}

// leaf consumes a leaf body up to a delimiter of an enclosing multipart or
// EOF, counting the decoded size and keeping decoded text of body parts.
func (p *parser) leaf(part *Part) {
	if part.kind == kindContainer {
		part.kind = kindAttachment
	}
	if part.Opaque || p.embedded > 0 {
		if part.kind == kindPlain || part.kind == kindHTML {
			part.kind = kindAttachment
		}
		if p.embedded > 0 {
			part.kind = kindInner
		}
	}
	dec := newDecoder(part.Encoding)
	s := &sink{}
	switch part.kind {
	case kindPlain:
		s.collect, s.max = p.plainLeft > 0, p.plainLeft
	case kindHTML:
		s.collect, s.max = p.htmlLeft > 0, p.htmlLeft
	}
	var held [2]byte
	nheld := 0
	p.sw.begin()
	for {
		line, ok := p.peek()
		if !ok {
			break
		}
		if lv, _ := p.match(line); lv >= 0 {
			break
		}
		// The line break of the last body line may belong to a delimiter:
		// hold it back until the next line arrives.
		if nheld > 0 {
			dec.write(held[:nheld], s)
			nheld = 0
		}
		content := line
		if n := len(line); n > 0 && line[n-1] == '\n' {
			if n >= 2 && line[n-2] == '\r' {
				nheld = 2
			} else {
				nheld = 1
			}
			copy(held[:], line[n-nheld:])
			content = line[:n-nheld]
		}
		dec.write(content, s)
		p.consume()
	}
	if err := p.sw.end(); err != nil && p.err == nil {
		p.err = err
	}
	if nheld > 0 && p.eof {
		dec.write(held[:nheld], s)
	}
	dec.flush(s)
	part.DecodedSize = s.n
	if s.collect {
		txt := normalizeNewlines(toUTF8(part.Params["charset"], s.buf))
		switch part.kind {
		case kindPlain:
			p.plainLeft -= int64(len(s.buf))
			p.plain = append(p.plain, txt)
		case kindHTML:
			p.htmlLeft -= int64(len(s.buf))
			p.html = append(p.html, txt)
		}
	}
}

// applyHeader fills the MIME fields of a part from its header (RFC 2045 §5,
// §6, §7, §8; RFC 2183; RFC 3282; RFC 2557; RFC 1864).
func (part *Part) applyHeader(fields []field, digest bool) {
	part.Type, part.Subtype = "text", "plain"
	if digest {
		// RFC 2046 §5.1.5: in a digest the default is message/rfc822.
		part.Type, part.Subtype = "message", "rfc822"
	}
	if v, ok := getField(fields, "content-type"); ok {
		mt, params := parseMediaType(v)
		t, st, ok := strings.Cut(mt, "/")
		t, st = strings.TrimSpace(t), strings.TrimSpace(st)
		if ok && t != "" && st != "" && validToken(t) && validToken(st) {
			part.Type, part.Subtype = t, st
			part.hasCT = true
			part.Params, part.paramList = mergeParams(params)
		} else if !ok && t == "text" {
			// Lenient: "Content-Type: text" means text/plain.
			part.hasCT = true
			part.Params, part.paramList = mergeParams(params)
		}
	}
	if part.Type == "text" && part.Params["charset"] == "" {
		// RFC 2045 §5.2 and RFC 2046 §4.1.2: the default charset of text is
		// us-ascii. It is made explicit in BODYSTRUCTURE (as Dovecot does).
		if part.Params == nil {
			part.Params = map[string]string{}
		}
		part.Params["charset"] = "us-ascii"
		has := false
		for _, kv := range part.paramList {
			has = has || kv[0] == "charset" || kv[0] == "charset*"
		}
		if !has {
			part.paramList = append([][2]string{{"charset", "us-ascii"}}, part.paramList...)
		}
	}
	part.Encoding = "7bit"
	if v, ok := getField(fields, "content-transfer-encoding"); ok {
		if e := strings.ToLower(strings.TrimSpace(stripComments(v))); e != "" {
			part.Encoding = validUTF8(e)
		}
	}
	get := func(k string) string { v, _ := getField(fields, k); return validUTF8(v) }
	part.ID = get("content-id")
	part.Description = get("content-description")
	part.Location = get("content-location")
	part.MD5 = get("content-md5")
	if v, ok := getField(fields, "content-language"); ok {
		for _, l := range strings.Split(stripComments(v), ",") {
			if l = strings.TrimSpace(l); l != "" {
				part.Language = append(part.Language, validUTF8(l))
			}
		}
	}
	if v, ok := getField(fields, "content-disposition"); ok {
		d, params := parseMediaType(v)
		if d != "" {
			part.Disposition = validUTF8(d)
			part.DispParams, part.dispList = mergeParams(params)
		}
	}
	part.kind = kindAttachment
	if part.Type == "text" && (part.Subtype == "plain" || part.Subtype == "html") &&
		part.Disposition != "attachment" && part.DispParams["filename"] == "" && part.Params["name"] == "" {
		if part.Subtype == "plain" {
			part.kind = kindPlain
		} else {
			part.kind = kindHTML
		}
	}
}

// validToken: RFC 2045 §5.1 token characters.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?=", c) >= 0 {
			return false
		}
	}
	return s != ""
}
