package mimetree

import (
	"strconv"
	"strings"
)

// imapBuf writes IMAP data items (RFC 3501 §4).
type imapBuf struct{ strings.Builder }

// str writes a string as a quoted string when every byte may appear in one
// (RFC 3501 §4.3, §9 QUOTED-CHAR: 7-bit, no CR, LF or NUL), else as a
// literal {n}CRLF followed by the bytes.
//
// Invalid UTF-8 is replaced by U+FFFD first: the strings are stored in JSON,
// and 8-bit header text is only meaningful as UTF-8 (RFC 6532).
func (b *imapBuf) str(s string) {
	s = validUTF8(s)
	quotable := len(s) <= 4096
	for i := 0; i < len(s) && quotable; i++ {
		c := s[i]
		if c == 0 || c == '\r' || c == '\n' || c >= 0x80 {
			quotable = false
		}
	}
	if !quotable {
		b.WriteByte('{')
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteString("}\r\n")
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// nstr writes NIL for the empty string, else str.
func (b *imapBuf) nstr(s string) {
	if s == "" {
		b.WriteString("NIL")
		return
	}
	b.str(s)
}

func (b *imapBuf) num(n int64) { b.WriteString(strconv.FormatInt(n, 10)) }

// addrList writes an address list per RFC 3501 §7.4.2: NIL when empty, else
// "(" 1*address ")" with address = "(" name adl mailbox host ")". A group
// start is (NIL NIL "group" NIL), its end (NIL NIL NIL NIL).
func (b *imapBuf) addrList(list []envAddr) {
	if len(list) == 0 {
		b.WriteString("NIL")
		return
	}
	b.WriteByte('(')
	for _, a := range list {
		switch {
		case a.groupStart:
			b.WriteString("(NIL NIL ")
			b.str(a.mailbox)
			b.WriteString(" NIL)")
		case a.groupEnd:
			b.WriteString("(NIL NIL NIL NIL)")
		default:
			b.WriteByte('(')
			b.nstr(a.name)
			b.WriteByte(' ')
			b.nstr(a.adl)
			// An address without local part or domain ("<>", "foo") gets
			// the placeholders Dovecot uses, so that a NIL host is never
			// mistaken for group syntax.
			mbox, host := a.mailbox, a.host
			if mbox == "" {
				mbox = "MISSING_MAILBOX"
			}
			if host == "" {
				host = "MISSING_DOMAIN"
			}
			b.WriteByte(' ')
			b.str(mbox)
			b.WriteByte(' ')
			b.str(host)
			b.WriteByte(')')
		}
	}
	b.WriteByte(')')
}

// envelope builds the IMAP ENVELOPE of a message header (RFC 3501 §7.4.2):
// (date subject from sender reply-to to cc bcc in-reply-to message-id).
// Values are the raw header text (unfolded, encoded words kept).
func envelope(fields []field) string {
	var b imapBuf
	get := func(k string) string { v, _ := getField(fields, k); return v }
	addrs := func(k string) []envAddr {
		v, ok := getField(fields, k)
		if !ok {
			return nil
		}
		return parseAddressList(v)
	}
	from := addrs("from")
	sender := addrs("sender")
	replyTo := addrs("reply-to")
	// RFC 3501 §7.4.2: absent or empty Sender / Reply-To default to From.
	if len(sender) == 0 {
		sender = from
	}
	if len(replyTo) == 0 {
		replyTo = from
	}
	b.WriteByte('(')
	b.nstr(get("date"))
	b.WriteByte(' ')
	b.nstr(get("subject"))
	for _, l := range [][]envAddr{from, sender, replyTo, addrs("to"), addrs("cc"), addrs("bcc")} {
		b.WriteByte(' ')
		b.addrList(l)
	}
	b.WriteByte(' ')
	b.nstr(get("in-reply-to"))
	b.WriteByte(' ')
	b.nstr(get("message-id"))
	b.WriteByte(')')
	return b.String()
}
