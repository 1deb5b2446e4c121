package mimetree

import (
	"bytes"
	"io"
	"mime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// field is one header field of a header block.
type field struct {
	key   string // as written, trailing whitespace removed
	lower string // lowercase key
	raw   string // unfolded value (line breaks removed, RFC 5322 §2.2.3), trimmed, bytes as written
}

// parseFields splits a raw header block into fields. Lines without a colon
// and continuation lines without a preceding field are ignored (their bytes
// stay in the stored message). The block may end with the blank line.
func parseFields(block []byte) []field {
	var fields []field
	var cur *bytes.Buffer
	var key string
	flush := func() {
		if cur != nil {
			v := strings.Trim(cur.String(), " \t\r\n")
			fields = append(fields, field{key: key, lower: strings.ToLower(key), raw: v})
			cur = nil
		}
	}
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		var line []byte
		if i < 0 {
			line, block = block, nil
		} else {
			line, block = block[:i], block[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			break // blank line: end of header
		}
		if line[0] == ' ' || line[0] == '\t' {
			// RFC 5322 §2.2.3: unfolding removes the CRLF, keeps the WSP.
			if cur != nil {
				cur.Write(line)
			}
			continue
		}
		flush()
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue // malformed line: kept raw, not a field
		}
		k := strings.TrimRight(string(line[:c]), " \t") // RFC 5322 §4.5.3 obs: WSP before colon
		if k == "" {
			continue
		}
		key = k
		cur = bytes.NewBuffer(append([]byte(nil), line[c+1:]...))
	}
	flush()
	return fields
}

func getField(fields []field, lowerKey string) (string, bool) {
	for _, f := range fields {
		if f.lower == lowerKey {
			return f.raw, true
		}
	}
	return "", false
}

// validUTF8 keeps UTF-8 (RFC 6532) and replaces invalid bytes by U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func charsetReader(cs string, in io.Reader) (io.Reader, error) {
	return charset.Reader(cs, in)
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeText decodes RFC 2047 encoded words in an unstructured header value
// (RFC 2047 §6.2: white space between adjacent encoded words is dropped).
// Undecodable words are kept as written; the result is valid UTF-8.
func decodeText(s string) string {
	if !strings.Contains(s, "=?") {
		return validUTF8(s)
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return validUTF8(s)
	}
	return validUTF8(d)
}

// toUTF8 converts b from the named charset to UTF-8. Unknown charsets keep
// the bytes (invalid UTF-8 replaced).
func toUTF8(cs string, b []byte) string {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "x-unknown", "unknown-8bit":
		return validUTF8(string(b))
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return validUTF8(string(b))
	}
	out, err := io.ReadAll(r)
	if err != nil && len(out) == 0 {
		return validUTF8(string(b))
	}
	return validUTF8(string(out))
}

// rawParam is one parameter as written: lowercase attribute, unquoted value.
type rawParam struct{ key, val string }

// parseMediaType parses "type/subtype; a=b; c="d"" (RFC 2045 §5.1) or a
// disposition "attachment; filename=x" (RFC 2183) leniently. It returns the
// lowercase value before the first ';' and the parameters.
func parseMediaType(v string) (string, []rawParam) {
	head, rest, _ := strings.Cut(v, ";")
	head = strings.ToLower(strings.TrimSpace(stripComments(head)))
	var params []rawParam
	for rest != "" {
		// Split at the next ';' outside a quoted string.
		i, inQ, esc := 0, false, false
		for ; i < len(rest); i++ {
			c := rest[i]
			if esc {
				esc = false
				continue
			}
			if inQ && c == '\\' {
				esc = true
				continue
			}
			if c == '"' {
				inQ = !inQ
				continue
			}
			if c == ';' && !inQ {
				break
			}
		}
		item := rest[:i]
		if i < len(rest) {
			rest = rest[i+1:]
		} else {
			rest = ""
		}
		k, val, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if k == "" {
			continue
		}
		if strings.HasPrefix(val, "\"") {
			val = unquote(val)
		} else {
			val = strings.TrimSpace(stripComments(val))
		}
		params = append(params, rawParam{k, val})
	}
	return head, params
}

// unquote removes the quotes of a quoted-string and its backslash escapes
// (RFC 5322 §3.2.4). An unterminated string runs to the end.
func unquote(s string) string {
	s = strings.TrimPrefix(s, "\"")
	var b strings.Builder
	esc := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if esc {
			b.WriteByte(c)
			esc = false
			continue
		}
		if c == '\\' {
			esc = true
			continue
		}
		if c == '"' {
			break
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stripComments removes RFC 5322 §3.2.2 comments outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth, inQ, esc := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if esc {
			esc = false
			if depth == 0 {
				b.WriteByte(c)
			}
			continue
		}
		switch {
		case c == '\\' && (inQ || depth > 0):
			esc = true
			if depth == 0 {
				b.WriteByte(c)
			}
			continue
		case c == '"' && depth == 0:
			inQ = !inQ
		case c == '(' && !inQ:
			depth++
			continue
		case c == ')' && !inQ && depth > 0:
			depth--
			continue
		}
		if depth == 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mergeParams applies RFC 2231: continuations (§3, "name*0", "name*1") are
// joined and charset/language-tagged values (§4, "name*=utf-8'en'%E2%82%AC")
// are decoded. It returns the decoded map (also RFC 2047-decoding values, a
// common non-standard practice) and the list for IMAP BODYSTRUCTURE, where a
// tagged value keeps its encoded form under the key "name*" (as Dovecot
// does).
func mergeParams(ps []rawParam) (map[string]string, [][2]string) {
	if len(ps) == 0 {
		return nil, nil
	}
	type piece struct {
		n   int
		enc bool
		val string
	}
	type group struct {
		plain    *string
		extended *string // name*=
		pieces   []piece
	}
	groups := map[string]*group{}
	var order []string
	get := func(k string) *group {
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
			order = append(order, k)
		}
		return g
	}
	for _, p := range ps {
		k := p.key
		star := strings.IndexByte(k, '*')
		if star < 0 {
			g := get(k)
			if g.plain == nil {
				v := p.val
				g.plain = &v
			}
			continue
		}
		base, suffix := k[:star], k[star+1:]
		if base == "" {
			continue
		}
		g := get(base)
		if suffix == "" {
			if g.extended == nil {
				v := p.val
				g.extended = &v
			}
			continue
		}
		enc := strings.HasSuffix(suffix, "*")
		num, err := strconv.Atoi(strings.TrimSuffix(suffix, "*"))
		if err != nil || num < 0 || num > 999 {
			continue
		}
		g.pieces = append(g.pieces, piece{num, enc, p.val})
	}
	dec := make(map[string]string, len(order))
	list := make([][2]string, 0, len(order))
	for _, k := range order {
		g := groups[k]
		switch {
		case g.extended != nil:
			dec[k] = decode2231(*g.extended, true)
			list = append(list, [2]string{k + "*", *g.extended})
		case len(g.pieces) > 0:
			sort.SliceStable(g.pieces, func(i, j int) bool { return g.pieces[i].n < g.pieces[j].n })
			anyEnc := false
			for _, pc := range g.pieces {
				anyEnc = anyEnc || pc.enc
			}
			var raw strings.Builder // joined value, encoded form when anyEnc
			cs := ""
			var bytesOut []byte
			for i, pc := range g.pieces {
				v := pc.val
				if pc.enc {
					if i == 0 {
						// RFC 2231 §4.1: only the first piece carries charset'lang'.
						if a := strings.IndexByte(v, '\''); a >= 0 {
							if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
								cs = v[:a]
								raw.WriteString(v[:a+1+b+1])
								v = v[a+1+b+1:]
							}
						}
					}
					raw.WriteString(v)
					bytesOut = append(bytesOut, pctDecode(v)...)
				} else {
					// Unencoded pieces are joined as written, like Dovecot.
					raw.WriteString(v)
					bytesOut = append(bytesOut, v...)
				}
			}
			if anyEnc {
				if !strings.Contains(raw.String(), "'") {
					raw.Reset()
					raw.WriteString("''")
					for _, pc := range g.pieces {
						if pc.enc {
							raw.WriteString(pc.val)
						} else {
							raw.WriteString(pc.val)
						}
					}
				}
				dec[k] = toUTF8(cs, bytesOut)
				list = append(list, [2]string{k + "*", raw.String()})
			} else {
				dec[k] = decodeText(string(bytesOut))
				list = append(list, [2]string{k, raw.String()})
			}
		case g.plain != nil:
			dec[k] = decodeText(*g.plain)
			list = append(list, [2]string{k, *g.plain})
		}
	}
	return dec, list
}

// decode2231 decodes charset'language'%XX-value (RFC 2231 §4).
func decode2231(v string, tagged bool) string {
	cs := ""
	if tagged {
		if a := strings.IndexByte(v, '\''); a >= 0 {
			if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
				cs = v[:a]
				v = v[a+1+b+1:]
			}
		}
	}
	return toUTF8(cs, pctDecode(v))
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func pctDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}
