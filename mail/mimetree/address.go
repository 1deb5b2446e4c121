package mimetree

import "strings"

// envAddr is one element of an IMAP address list (RFC 3501 §7.4.2): a mailbox,
// or a group start/end marker (host NIL). Strings are raw header text
// (encoded words not decoded), quoted strings unquoted.
type envAddr struct {
	name, adl, mailbox, host string
	hasHost                  bool
	groupStart, groupEnd     bool
}

type tokKind uint8

const (
	tAtom tokKind = iota
	tQuoted
	tComment
	tSpecial
	tLiteral // domain literal [..]
)

type tok struct {
	kind tokKind
	text string // content (unquoted for quoted strings and comments)
	raw  string // as written
}

// tokenize splits an address header into RFC 5322 §3.2 lexical tokens,
// leniently (unterminated quotes/comments run to the end).
func tokenize(s string) []tok {
	var toks []tok
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			end := min(j+1, len(s))
			toks = append(toks, tok{tQuoted, b.String(), s[i:end]})
			i = end
		case c == '(':
			depth, j := 1, i+1
			var b strings.Builder
			for j < len(s) && depth > 0 {
				switch s[j] {
				case '\\':
					if j+1 < len(s) {
						j++
					}
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth > 0 {
					b.WriteByte(s[j])
				}
				j++
			}
			toks = append(toks, tok{tComment, b.String(), s[i:j]})
			i = j
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, tok{tLiteral, s[i : i+j+1], s[i : i+j+1]})
			i += j + 1
		case strings.IndexByte("<>:;@,.\\])", c) >= 0:
			toks = append(toks, tok{tSpecial, s[i : i+1], s[i : i+1]})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n\"()<>[]:;@,.\\", s[j]) < 0 {
				j++
			}
			if j == i {
				j++ // always make progress
			}
			toks = append(toks, tok{tAtom, s[i:j], s[i:j]})
			i = j
		}
	}
	return toks
}

// parseAddressList parses an address-list (RFC 5322 §3.4) leniently into
// IMAP envelope address structures, with group markers.
func parseAddressList(s string) []envAddr {
	toks := tokenize(s)
	var out []envAddr
	inGroup := false
	angle := 0
	start := 0
	emit := func(ts []tok) {
		if a, ok := mailboxFromTokens(ts); ok {
			out = append(out, a)
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tSpecial {
			continue
		}
		switch t.text {
		case "<":
			angle++
		case ">":
			if angle > 0 {
				angle--
			}
		case ",":
			if angle == 0 {
				emit(toks[start:i])
				start = i + 1
			}
		case ":":
			if angle == 0 && !inGroup {
				// RFC 5322 §3.4 group: display-name ":" [group-list] ";"
				out = append(out, envAddr{mailbox: phrase(toks[start:i]), groupStart: true})
				inGroup = true
				start = i + 1
			}
		case ";":
			if angle == 0 && inGroup {
				emit(toks[start:i])
				out = append(out, envAddr{groupEnd: true})
				inGroup = false
				start = i + 1
			}
		}
	}
	emit(toks[start:])
	if inGroup {
		out = append(out, envAddr{groupEnd: true})
	}
	return out
}

// phrase joins display-name words with single spaces (a "." sticks to the
// previous word, RFC 5322 §4.1 obs-phrase).
func phrase(ts []tok) string {
	var b strings.Builder
	for _, t := range ts {
		switch t.kind {
		case tComment:
			continue
		case tSpecial:
			if t.text == "." {
				b.WriteString(".")
				continue
			}
			if t.text == "\\" {
				continue
			}
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

func mailboxFromTokens(ts []tok) (envAddr, bool) {
	var a envAddr
	var comment string
	var nonComment []tok
	for _, t := range ts {
		if t.kind == tComment {
			if comment == "" {
				comment = strings.TrimSpace(t.text)
			}
			continue
		}
		nonComment = append(nonComment, t)
	}
	if len(nonComment) == 0 {
		return a, false
	}
	lt := -1
	for i, t := range nonComment {
		if t.kind == tSpecial && t.text == "<" {
			lt = i
			break
		}
	}
	spec := nonComment
	if lt >= 0 {
		a.name = phrase(nonComment[:lt])
		spec = nonComment[lt+1:]
		for i, t := range spec {
			if t.kind == tSpecial && t.text == ">" {
				spec = spec[:i]
				break
			}
		}
		// RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec.
		if len(spec) > 0 && spec[0].kind == tSpecial && spec[0].text == "@" {
			for i, t := range spec {
				if t.kind == tSpecial && t.text == ":" {
					a.adl = joinRaw(spec[:i])
					spec = spec[i+1:]
					break
				}
			}
		}
	}
	if a.name == "" {
		a.name = comment
	}
	at := -1
	for i, t := range spec {
		if t.kind == tSpecial && t.text == "@" {
			at = i
		}
	}
	if at >= 0 {
		a.mailbox = joinRaw(spec[:at])
		a.host = joinRaw(spec[at+1:])
	} else {
		a.mailbox = joinRaw(spec)
	}
	a.hasHost = true
	if a.mailbox == "" && a.host == "" && lt < 0 {
		return a, false
	}
	return a, true
}

func joinRaw(ts []tok) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.raw)
	}
	return b.String()
}

// metaAddresses converts envelope addresses into decoded Meta addresses,
// flattening groups.
func metaAddresses(list []envAddr) []Address {
	var out []Address
	for _, a := range list {
		if a.groupStart || a.groupEnd {
			continue
		}
		addr := a.mailbox
		if a.host != "" {
			addr += "@" + a.host
		}
		out = append(out, Address{Name: decodeText(a.name), Address: validUTF8(addr)})
	}
	return out
}
