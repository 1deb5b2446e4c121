package mimetree

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// sink receives decoded body bytes: it counts them all and keeps at most max
// of them when collect is set.
type sink struct {
	n       int64
	collect bool
	max     int64
	buf     []byte
}

func (s *sink) add(b []byte) {
	s.n += int64(len(b))
	if s.collect {
		if room := s.max - int64(len(s.buf)); room > 0 {
			if int64(len(b)) > room {
				b = b[:room]
			}
			s.buf = append(s.buf, b...)
		}
	}
}

// decoder undoes a Content-Transfer-Encoding incrementally (RFC 2045 §6).
type decoder interface {
	write(p []byte, s *sink)
	flush(s *sink)
}

func newDecoder(cte string) decoder {
	switch cte {
	case "base64":
		return &b64Decoder{}
	case "quoted-printable":
		return &qpDecoder{}
	}
	return identity{}
}

type identity struct{}

func (identity) write(p []byte, s *sink) { s.add(p) }
func (identity) flush(*sink)             {}

var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = byte(i)
	}
	return t
}()

// b64Decoder decodes base64 (RFC 2045 §6.8) leniently: characters outside the
// alphabet are ignored (§6.8 says so for line breaks and junk), "=" ends a
// quantum early, and decoding continues after it (concatenated encodings).
type b64Decoder struct {
	q   uint32
	n   int
	out [3 * 1024]byte
	o   int
}

func (d *b64Decoder) write(p []byte, s *sink) {
	if !s.collect {
		d.count(p, s)
		return
	}
	for _, c := range p {
		v := b64val[c]
		if v == 0xff {
			if c == '=' {
				d.endQuantum()
			}
			continue
		}
		d.q = d.q<<6 | uint32(v)
		d.n++
		if d.n == 4 {
			d.out[d.o] = byte(d.q >> 16)
			d.out[d.o+1] = byte(d.q >> 8)
			d.out[d.o+2] = byte(d.q)
			d.o += 3
			d.n, d.q = 0, 0
			if d.o == len(d.out) {
				s.add(d.out[:d.o])
				d.o = 0
			}
		}
	}
	if d.o > 0 {
		s.add(d.out[:d.o])
		d.o = 0
	}
}

// count is write for a sink that keeps nothing (an attachment): only the
// decoded size is needed, so no byte is assembled. It counts exactly what
// write would emit: 3 bytes per 4 alphabet characters, and what endQuantum
// emits at a "=".
func (d *b64Decoder) count(p []byte, s *sink) {
	n, total := d.n, int64(0)
	for len(p) > 0 {
		seg := p
		eq := bytes.IndexByte(p, '=')
		if eq >= 0 {
			seg = p[:eq]
		}
		valid := 0
		for _, c := range seg { // no branch: the usual input is all alphabet
			valid += int(b64ok[c])
		}
		n += valid
		total += int64(n/4) * 3
		n %= 4
		if eq < 0 {
			break
		}
		total += int64(partialBytes[n])
		n = 0
		p = p[eq+1:]
	}
	d.n, d.q = n, 0 // q is not needed when only counting
	s.n += total
}

// b64ok[c] is 1 for the characters of the base64 alphabet, 0 otherwise.
var b64ok = func() (t [256]uint8) {
	for i := range t {
		if b64val[i] != 0xff {
			t[i] = 1
		}
	}
	return t
}()

// partialBytes[n] is how many bytes a quantum of n characters ended by "="
// carries (endQuantum).
var partialBytes = [4]int{0, 0, 1, 2}

// endQuantum emits the bytes of a partial quantum (2 chars: 1 byte, 3 chars:
// 2 bytes; a lone char carries no full byte).
func (d *b64Decoder) endQuantum() {
	switch d.n {
	case 2:
		d.out[d.o] = byte(d.q >> 4)
		d.o++
	case 3:
		d.out[d.o] = byte(d.q >> 10)
		d.out[d.o+1] = byte(d.q >> 2)
		d.o += 2
	}
	d.n, d.q = 0, 0
}

func (d *b64Decoder) flush(s *sink) {
	d.endQuantum()
	if d.o > 0 {
		s.add(d.out[:d.o])
		d.o = 0
	}
}

// qpDecoder decodes quoted-printable (RFC 2045 §6.7) leniently: "=XX"
// (either case) is a byte, "=" before a line break (optionally after
// whitespace) is a soft line break, trailing whitespace on a line is removed
// (rule 3), any other "=" is kept literally.
type qpDecoder struct {
	st  uint8 // 0 normal, 1 after '=', 2 after '=' hex, 3 after '=' WSP, 4 after '=' CR
	h   byte
	ws  []byte
	out []byte
}

func (d *qpDecoder) write(p []byte, s *sink) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch d.st {
		case 1:
			if _, ok := unhex(c); ok {
				d.h, d.st = c, 2
				continue
			}
			switch c {
			case '\n':
				d.st = 0
				continue
			case '\r':
				d.st = 4
				continue
			case ' ', '\t':
				d.st = 3
				continue
			}
			d.out = append(d.out, '=')
			d.st = 0
		case 2:
			d.st = 0
			if l, ok := unhex(c); ok {
				h, _ := unhex(d.h)
				d.out = append(d.out, h<<4|l)
				continue
			}
			d.out = append(d.out, '=', d.h)
		case 3:
			switch c {
			case ' ', '\t':
				continue
			case '\r':
				d.st = 4
				continue
			case '\n':
				d.st = 0
				continue
			}
			d.out = append(d.out, '=')
			d.st = 0
		case 4:
			d.st = 0
			if c == '\n' {
				continue
			}
		}
		// state 0
		switch c {
		case '=':
			d.out = append(d.out, d.ws...)
			d.ws = d.ws[:0]
			d.st = 1
		case ' ', '\t':
			d.ws = append(d.ws, c)
		case '\r', '\n':
			d.ws = d.ws[:0]
			d.out = append(d.out, c)
		default:
			if len(d.ws) > 0 {
				d.out = append(d.out, d.ws...)
				d.ws = d.ws[:0]
			}
			d.out = append(d.out, c)
		}
		if len(d.out) >= 4096 {
			s.add(d.out)
			d.out = d.out[:0]
		}
	}
	if len(d.out) > 0 {
		s.add(d.out)
		d.out = d.out[:0]
	}
}

func (d *qpDecoder) flush(s *sink) {
	if d.st == 2 {
		d.out = append(d.out, '=', d.h)
	}
	d.st = 0
	d.ws = d.ws[:0] // trailing whitespace of the last line (rule 3)
	if len(d.out) > 0 {
		s.add(d.out)
		d.out = d.out[:0]
	}
}

// normalizeNewlines turns CRLF and bare CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// collapseSpace replaces every whitespace run with one space and trims.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// firstRunes returns at most n runes of s.
func firstRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// truncUTF8 cuts s to at most n bytes without splitting a rune.
func truncUTF8(s string, n int64) string {
	if int64(len(s)) <= n {
		return s
	}
	i := int(n)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// htmlToText extracts readable text from HTML: tags are dropped, entities
// decoded (by the tokenizer), script/style/head content skipped, block
// elements become line breaks, whitespace collapsed.
func htmlToText(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b bytes.Buffer
	skip := 0
	pendingNL := 0
	space := false
	writeText := func(t []byte) {
		for len(t) > 0 {
			r, sz := utf8.DecodeRune(t)
			t = t[sz:]
			if unicode.IsSpace(r) || r == '\u00a0' {
				space = true
				continue
			}
			if pendingNL > 0 && b.Len() > 0 {
				b.WriteString(strings.Repeat("\n", pendingNL))
			} else if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			pendingNL, space = 0, false
			b.WriteRune(r)
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				writeText(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Template:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Br:
				pendingNL = max(pendingNL, 1)
			case atom.P, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Blockquote, atom.Pre, atom.Table, atom.Ul, atom.Ol, atom.Hr:
				pendingNL = 2
			case atom.Li, atom.Tr, atom.Dt, atom.Dd:
				pendingNL = max(pendingNL, 1)
			case atom.Td, atom.Th:
				space = true
			}
		}
	}
}
