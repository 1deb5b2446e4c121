package mimetree

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// extByType gives file name extensions for generated attachment names. A
// fixed table keeps names independent of the host's mime.types.
var extByType = map[string]string{
	"application/pdf":    ".pdf",
	"application/zip":    ".zip",
	"application/gzip":   ".gz",
	"application/json":   ".json",
	"application/xml":    ".xml",
	"application/msword": ".doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         ".xlsx",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"application/vnd.ms-excel":      ".xls",
	"application/vnd.ms-powerpoint": ".ppt",
	"application/pgp-signature":     ".asc",
	"application/pkcs7-signature":   ".p7s",
	"application/x-pkcs7-signature": ".p7s",
	"application/ics":               ".ics",
	"text/plain":                    ".txt",
	"text/html":                     ".html",
	"text/csv":                      ".csv",
	"text/calendar":                 ".ics",
	"text/xml":                      ".xml",
	"text/rfc822-headers":           ".txt",
	"image/jpeg":                    ".jpg",
	"image/png":                     ".png",
	"image/gif":                     ".gif",
	"image/webp":                    ".webp",
	"image/svg+xml":                 ".svg",
	"image/tiff":                    ".tif",
	"image/bmp":                     ".bmp",
	"audio/mpeg":                    ".mp3",
	"audio/ogg":                     ".ogg",
	"audio/wav":                     ".wav",
	"video/mp4":                     ".mp4",
	"video/mpeg":                    ".mpeg",
	"message/rfc822":                ".eml",
	"message/global":                ".eml",
	"message/delivery-status":       ".txt",
}

func extFor(ct string) string {
	if e, ok := extByType[ct]; ok {
		return e
	}
	if strings.HasPrefix(ct, "text/") {
		return ".txt"
	}
	return ".bin"
}

// assignSections numbers the parts per RFC 3501 §6.4.5.
func assignSections(p *Part, sec string) {
	p.Section = sec
	if p.IsMultipart() {
		for i, c := range p.Children {
			assignSections(c, joinSec(sec, i+1))
		}
		return
	}
	if m := p.Message; m != nil {
		if m.IsMultipart() {
			// The parts of an attached multipart message are numbered
			// directly below the message/rfc822 part.
			assignSections(m, sec)
		} else {
			assignSections(m, joinSec(sec, 1))
		}
	}
}

func joinSec(sec string, n int) string {
	if sec == "" {
		return strconv.Itoa(n)
	}
	return sec + "." + strconv.Itoa(n)
}

// collectAttachments lists the attachment leaves in document order without
// descending into attached messages.
func collectAttachments(p *Part, out *[]Attachment) {
	if p.IsMultipart() {
		for _, c := range p.Children {
			collectAttachments(c, out)
		}
		return
	}
	if p.kind != kindAttachment && p.kind != kindRelated {
		return
	}
	n := len(*out) + 1
	ct := p.ContentType()
	if p.Opaque {
		ct = "application/octet-stream"
	}
	name := p.DispParams["filename"]
	if name == "" {
		name = p.Params["name"]
	}
	if name == "" {
		name = fmt.Sprintf("attachment-%d%s", n, extFor(ct))
	}
	*out = append(*out, Attachment{
		ID:               fmt.Sprintf("ATT%05d", n),
		Filename:         name,
		ContentType:      ct,
		Disposition:      p.Disposition,
		TransferEncoding: p.Encoding,
		ContentID:        strings.Trim(strings.TrimSpace(p.ID), "<>"),
		Related:          p.kind == kindRelated,
		Size:             p.DecodedSize,
		Part:             p.Section,
	})
}

// msgIDs extracts message ids (RFC 5322 §3.6.4) without angle brackets. A
// value without any bracketed id yields its words.
func msgIDs(v string) []string {
	var ids []string
	rest := v
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(rest[i+1 : i+j]); id != "" {
			ids = append(ids, validUTF8(id))
		}
		rest = rest[i+j+1:]
	}
	if len(ids) == 0 {
		for _, w := range strings.Fields(stripComments(v)) {
			ids = append(ids, validUTF8(w))
		}
	}
	return ids
}

var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	time.RFC3339,
}

// parseDate parses a Date: value (RFC 5322 §3.3) leniently; zero on failure.
func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	c := strings.Join(strings.Fields(stripComments(v)), " ")
	c = strings.TrimSuffix(c, ",")
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, c); err == nil {
			return t
		}
	}
	if t, err := mail.ParseDate(c); err == nil {
		return t
	}
	return time.Time{}
}

// buildMeta assembles the metadata once the whole message was read.
func (p *parser) buildMeta(root *Part) *Meta {
	m := &Meta{Size: p.off, Root: root, Envelope: root.env}
	if root.IsMultipart() {
		assignSections(root, "")
	} else {
		assignSections(root, "1")
	}
	m.BodyStructure = bodyStructure(root, true)
	m.Body = bodyStructure(root, false)

	for _, f := range p.topHdr {
		m.Headers = append(m.Headers, Header{Key: validUTF8(f.key), Value: decodeText(f.raw)})
	}
	get := func(k string) (string, bool) { return getField(p.topHdr, k) }
	if v, ok := get("subject"); ok {
		m.Subject = decodeText(v)
	}
	for _, a := range []struct {
		key string
		dst *[]Address
	}{{"from", &m.From}, {"sender", &m.Sender}, {"reply-to", &m.ReplyTo}, {"to", &m.To}, {"cc", &m.Cc}, {"bcc", &m.Bcc}} {
		if v, ok := get(a.key); ok {
			*a.dst = metaAddresses(parseAddressList(v))
		}
	}
	if v, ok := get("date"); ok {
		m.Date = parseDate(v)
	}
	if v, ok := get("message-id"); ok {
		if ids := msgIDs(v); len(ids) > 0 {
			m.MessageID = ids[0]
		}
	}
	if v, ok := get("in-reply-to"); ok {
		if ids := msgIDs(v); len(ids) > 0 {
			m.InReplyTo = ids[0]
		}
	}
	if v, ok := get("references"); ok {
		m.References = msgIDs(v)
	}

	if len(p.plain) > 0 {
		m.Text = strings.Join(p.plain, "\n\n")
	} else if len(p.html) > 0 {
		parts := make([]string, 0, len(p.html))
		for _, h := range p.html {
			parts = append(parts, htmlToText(h))
		}
		m.Text = strings.Join(parts, "\n\n")
	}
	m.Text = truncUTF8(m.Text, p.lim.MaxTextBytes)
	m.HTML = p.html
	m.Intro = firstRunes(collapseSpace(firstRunes(m.Text, 4096)), 256)

	collectAttachments(root, &m.Attachments)
	for _, a := range m.Attachments {
		if !a.Related {
			m.HasAttachments = true
		}
	}
	return m
}
