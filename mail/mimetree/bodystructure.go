package mimetree

import "strings"

// bodyStructure writes the IMAP BODY (ext=false) or BODYSTRUCTURE (ext=true)
// of a part, RFC 3501 §7.4.2 and the body grammar of §9.
func (b *imapBuf) body(p *Part, ext bool) {
	if p.IsMultipart() {
		// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
		b.WriteByte('(')
		if len(p.Children) == 0 {
			// The grammar needs at least one body: an empty text/plain part
			// stands in for a multipart without any body part.
			b.WriteString(`("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0`)
			if ext {
				b.WriteString(" NIL NIL NIL NIL")
			}
			b.WriteByte(')')
		}
		for _, c := range p.Children {
			b.body(c, ext)
		}
		b.WriteByte(' ')
		b.str(p.Subtype)
		if ext {
			// body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
			b.WriteByte(' ')
			b.params(p.paramList)
			b.extCommon(p)
		}
		b.WriteByte(')')
		return
	}
	// body-type-1part = (body-type-basic / body-type-msg / body-type-text) [SP body-ext-1part]
	b.WriteByte('(')
	typ, sub := p.Type, p.Subtype
	if p.Opaque {
		// Not descended (no boundary, limits, encoded message): present the
		// bytes as what they are to us, opaque data, so clients do not expect
		// parts or an envelope.
		typ, sub = "application", "octet-stream"
	}
	b.str(typ)
	b.WriteByte(' ')
	b.str(sub)
	b.WriteByte(' ')
	// body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
	b.params(p.paramList)
	b.WriteByte(' ')
	b.nstr(p.ID)
	b.WriteByte(' ')
	b.nstr(p.Description)
	b.WriteByte(' ')
	b.str(strings.ToUpper(p.Encoding))
	b.WriteByte(' ')
	b.num(p.Size)
	switch {
	case p.Message != nil:
		// body-type-msg = media-message SP body-fields SP envelope SP body SP body-fld-lines
		b.WriteByte(' ')
		b.WriteString(p.Envelope)
		b.WriteByte(' ')
		b.body(p.Message, ext)
		b.WriteByte(' ')
		b.num(p.Lines)
	case typ == "text":
		// body-type-text = media-text SP body-fields SP body-fld-lines
		b.WriteByte(' ')
		b.num(p.Lines)
	}
	if ext {
		// body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
		b.WriteByte(' ')
		b.nstr(p.MD5)
		b.extCommon(p)
	}
	b.WriteByte(')')
}

// extCommon writes SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (b *imapBuf) extCommon(p *Part) {
	b.WriteByte(' ')
	// body-fld-dsp = "(" string SP body-fld-param ")" / nil
	if p.Disposition == "" {
		b.WriteString("NIL")
	} else {
		b.WriteByte('(')
		b.str(p.Disposition)
		b.WriteByte(' ')
		b.params(p.dispList)
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	// body-fld-lang = nstring / "(" string *(SP string) ")"
	if len(p.Language) == 0 {
		b.WriteString("NIL")
	} else {
		b.WriteByte('(')
		for i, l := range p.Language {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.str(l)
		}
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	b.nstr(p.Location)
}

// params writes body-fld-param = "(" string SP string *(SP string SP string) ")" / nil.
func (b *imapBuf) params(list [][2]string) {
	if len(list) == 0 {
		b.WriteString("NIL")
		return
	}
	b.WriteByte('(')
	for i, kv := range list {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.str(kv[0])
		b.WriteByte(' ')
		b.str(kv[1])
	}
	b.WriteByte(')')
}

func bodyStructure(root *Part, ext bool) string {
	var b imapBuf
	b.body(root, ext)
	return b.String()
}
