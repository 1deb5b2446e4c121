package wire

import "strings"

// Address is one address of an ENVELOPE (RFC 3501 §7.4.2). Empty fields
// are sent as NIL. RFC 2822 group syntax is expressed as in RFC 3501: a
// group start is an Address with Mailbox set to the group name and Host
// empty; a group end has every field empty.
type Address struct {
	Name, ADL, Mailbox, Host string
}

// Envelope is the ENVELOPE of a message (RFC 3501 §7.4.2). Strings are the
// raw (possibly RFC 2047 encoded) header values; empty means NIL. As
// RFC 3501 requires, the caller fills Sender and ReplyTo with From when the
// message lacks those headers.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
}

// Param is a MIME parameter (body-fld-param), in message order.
type Param struct {
	Name, Value string
}

// BodyStructure describes a MIME part for BODY and BODYSTRUCTURE
// (RFC 3501 §7.4.2, RFC 9051 §7.5.2).
//
// A part with Type "multipart" (any case) is written as a multipart body
// with Parts (which must not be empty; an empty one is written with a
// single empty text/plain part to keep the syntax valid). "message/rfc822"
// and "message/global" parts carry Envelope, Body and Lines; "text/*"
// parts carry Lines. The extension fields (MD5 ... Location) are written
// only in BODYSTRUCTURE.
type BodyStructure struct {
	Type, Subtype string
	Params        []Param
	ID            string
	Description   string
	Encoding      string // "" is written as "7BIT"
	Size          uint32 // octets of the encoded body
	Lines         uint32 // text/*, message/rfc822

	Envelope *Envelope      // message/rfc822
	Body     *BodyStructure // message/rfc822
	Parts    []*BodyStructure

	MD5               string
	Disposition       string // "" for NIL
	DispositionParams []Param
	Language          []string
	Location          string
}

func (w *Writer) addresses(as []Address) {
	if len(as) == 0 {
		w.NIL()
		return
	}
	w.byte1('(')
	for _, a := range as { // env-from = "(" 1*address ")": no separator
		w.byte1('(')
		w.NString(a.Name)
		w.SP()
		w.NString(a.ADL)
		w.SP()
		w.NString(a.Mailbox)
		w.SP()
		w.NString(a.Host)
		w.byte1(')')
	}
	w.byte1(')')
}

// envelope writes "(" env-date SP env-subject SP env-from SP env-sender SP
// env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
// env-message-id ")" (RFC 3501 §9).
func (w *Writer) envelope(e *Envelope) {
	if e == nil {
		e = &Envelope{}
	}
	w.byte1('(')
	w.NString(e.Date)
	w.SP()
	w.NString(e.Subject)
	for _, as := range [][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		w.SP()
		w.addresses(as)
	}
	w.SP()
	w.NString(e.InReplyTo)
	w.SP()
	w.NString(e.MessageID)
	w.byte1(')')
}

// params writes body-fld-param: "(" string SP string ... ")" / nil.
func (w *Writer) params(ps []Param) {
	if len(ps) == 0 {
		w.NIL()
		return
	}
	w.byte1('(')
	for i, p := range ps {
		if i > 0 {
			w.SP()
		}
		w.String(p.Name)
		w.SP()
		w.String(p.Value)
	}
	w.byte1(')')
}

// extensions writes body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (w *Writer) extensions(b *BodyStructure) {
	if b.Disposition == "" {
		w.NIL()
	} else {
		w.byte1('(')
		w.String(b.Disposition)
		w.SP()
		w.params(b.DispositionParams)
		w.byte1(')')
	}
	w.SP()
	switch len(b.Language) {
	case 0:
		w.NIL()
	case 1:
		w.String(b.Language[0])
	default:
		w.byte1('(')
		for i, l := range b.Language {
			if i > 0 {
				w.SP()
			}
			w.String(l)
		}
		w.byte1(')')
	}
	w.SP()
	w.NString(b.Location)
}

func (w *Writer) bodyStructure(b *BodyStructure, ext bool) {
	w.bodyStructureDepth(b, ext, 0)
}

// maxBodyDepth bounds recursion on pathological structures.
const maxBodyDepth = 200

func (w *Writer) bodyStructureDepth(b *BodyStructure, ext bool, depth int) {
	if b == nil || depth > maxBodyDepth {
		b = &BodyStructure{Type: "text", Subtype: "plain"}
	}
	w.byte1('(')
	if strings.EqualFold(b.Type, "multipart") {
		parts := b.Parts
		if len(parts) == 0 {
			parts = []*BodyStructure{{Type: "text", Subtype: "plain"}}
		}
		for _, p := range parts { // 1*body: no separator
			w.bodyStructureDepth(p, ext, depth+1)
		}
		w.SP()
		w.String(b.Subtype)
		if ext { // body-ext-mpart
			w.SP()
			w.params(b.Params)
			w.SP()
			w.extensions(b)
		}
		w.byte1(')')
		return
	}
	w.String(b.Type)
	w.SP()
	w.String(b.Subtype)
	w.SP()
	w.params(b.Params)
	w.SP()
	w.NString(b.ID)
	w.SP()
	w.NString(b.Description)
	w.SP()
	enc := b.Encoding
	if enc == "" {
		enc = "7BIT"
	}
	w.String(enc)
	w.SP()
	w.Number(uint64(b.Size))
	switch {
	case strings.EqualFold(b.Type, "message") &&
		(strings.EqualFold(b.Subtype, "rfc822") || strings.EqualFold(b.Subtype, "global")):
		w.SP()
		w.envelope(b.Envelope)
		w.SP()
		w.bodyStructureDepth(b.Body, ext, depth+1)
		w.SP()
		w.Number(uint64(b.Lines))
	case strings.EqualFold(b.Type, "text"):
		w.SP()
		w.Number(uint64(b.Lines))
	}
	if ext { // body-ext-1part
		w.SP()
		w.NString(b.MD5)
		w.SP()
		w.extensions(b)
	}
	w.byte1(')')
}
