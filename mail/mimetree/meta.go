package mimetree

import "time"

// Meta is everything the IMAP, POP3 and REST front-ends need about a message,
// computed once at delivery. It is stored as an opaque JSON blob.
type Meta struct {
	// Size is RFC822.SIZE: the number of raw bytes of the message as stored
	// (the sum of the segment sizes).
	Size int64 `json:"size"`
	// Root is the MIME tree. Root.HeaderStart is 0 and Root.BodyEnd is Size.
	Root *Part `json:"root"`
	// Envelope is the IMAP ENVELOPE in RFC 3501 §7.4.2 wire form, ready to be
	// written after "ENVELOPE ".
	Envelope string `json:"env"`
	// BodyStructure is the extensible IMAP BODYSTRUCTURE (RFC 3501 §7.4.2).
	BodyStructure string `json:"bs"`
	// Body is the non-extensible IMAP BODY form.
	Body string `json:"body"`
	// Headers are the top-level header fields in order. Key is the field name
	// as written; Value is unfolded, RFC 2047 decoded and valid UTF-8.
	Headers []Header `json:"hdrs,omitempty"`
	// Subject is the decoded Subject (UTF-8), "" when absent.
	Subject string `json:"subj,omitempty"`
	// Address lists, decoded. Group syntax is flattened into the members.
	// Unlike the ENVELOPE, Sender and ReplyTo are not defaulted to From.
	From    []Address `json:"from,omitempty"`
	Sender  []Address `json:"sender,omitempty"`
	ReplyTo []Address `json:"replyto,omitempty"`
	To      []Address `json:"to,omitempty"`
	Cc      []Address `json:"cc,omitempty"`
	Bcc     []Address `json:"bcc,omitempty"`
	// Date is the parsed Date: header; the zero time when missing or
	// unparsable.
	Date time.Time `json:"date"`
	// MessageID, InReplyTo and References hold message ids WITHOUT the
	// surrounding angle brackets ("abc@example.com"). When a field holds no
	// bracketed id, its whitespace-separated words are used as is.
	MessageID  string   `json:"msgid,omitempty"`
	InReplyTo  string   `json:"irt,omitempty"`
	References []string `json:"refs,omitempty"`
	// Text is the plain text of the message: the decoded text/plain body
	// parts (not attachments, not inside attached messages) joined by a blank
	// line; when there are none, text derived from the HTML parts. Line
	// breaks are "\n". At most Limits.MaxTextBytes bytes.
	Text string `json:"text,omitempty"`
	// HTML holds the decoded text/html body parts (not attachments), UTF-8,
	// unsanitized.
	HTML []string `json:"html,omitempty"`
	// Intro is the first 256 runes of Text with whitespace runs collapsed to
	// one space.
	Intro string `json:"intro,omitempty"`
	// Attachments lists the leaf parts that are not body text, in document
	// order (attached messages are one attachment; their inner parts are not
	// listed).
	Attachments []Attachment `json:"atts,omitempty"`
	// HasAttachments is true when at least one attachment is not Related
	// (i.e. not an inline resource of a multipart/related body).
	HasAttachments bool `json:"hasatt,omitempty"`
}

// Header is one header field.
type Header struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Address is one mailbox, decoded to UTF-8. Address is "local@domain" as
// written (a quoted local part keeps its quotes); it has no "@" when the
// header had no domain.
type Address struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"addr"`
}

// Attachment describes one attachment.
type Attachment struct {
	// ID is "ATT00001", "ATT00002", ... in document order.
	ID string `json:"id"`
	// Filename comes from the Content-Disposition filename parameter or the
	// Content-Type name parameter (RFC 2231 / RFC 2047 decoded); when both are
	// absent it is generated as "attachment-N.ext" from the content type.
	Filename         string `json:"name"`
	ContentType      string `json:"type"` // "type/subtype", lowercase
	Disposition      string `json:"disp,omitempty"`
	TransferEncoding string `json:"cte,omitempty"`
	// ContentID is the Content-ID without angle brackets.
	ContentID string `json:"cid,omitempty"`
	// Related is true for inline resources: a part with a Content-ID inside
	// multipart/related.
	Related bool `json:"rel,omitempty"`
	// Size is the decoded size in bytes (exact: computed by decoding while
	// streaming).
	Size int64 `json:"size"`
	// Part is the IMAP section number ("2", "1.2").
	Part string `json:"part"`
}

// Part is one MIME entity. All offsets are byte offsets into the whole raw
// message, with HeaderStart <= HeaderEnd <= BodyStart <= BodyEnd.
//
// The body range [BodyStart, BodyEnd) is exactly what IMAP BODY[section]
// returns: for a part inside a multipart it ends before the line break that
// precedes the next delimiter line (RFC 2046 §5.1.1: that line break belongs
// to the delimiter).
type Part struct {
	// Section is the IMAP section number addressing this part's body (RFC
	// 3501 §6.4.5): "" for a multipart top-level message, "1" for a
	// non-multipart top-level message. A multipart root of an attached
	// message shares the section of its message/rfc822 part; a non-multipart
	// root of an attached message is that section plus ".1".
	Section string `json:"sec,omitempty"`
	// Type and Subtype are lowercase. When Content-Type is absent or
	// unparsable they are the RFC 2045 §5.2 default text/plain (or
	// message/rfc822 inside multipart/digest, RFC 2046 §5.1.5).
	Type    string `json:"type"`
	Subtype string `json:"sub"`
	// Params are the Content-Type parameters: lowercase keys, values with RFC
	// 2231 continuations joined and charsets decoded to UTF-8.
	Params      map[string]string `json:"params,omitempty"`
	ID          string            `json:"id,omitempty"`   // Content-ID as written (with <>)
	Description string            `json:"desc,omitempty"` // Content-Description, raw
	// Encoding is the Content-Transfer-Encoding, lowercase; "7bit" when absent.
	Encoding    string            `json:"cte"`
	Disposition string            `json:"disp,omitempty"` // lowercase
	DispParams  map[string]string `json:"dparams,omitempty"`
	Language    []string          `json:"lang,omitempty"`
	Location    string            `json:"loc,omitempty"`
	MD5         string            `json:"md5,omitempty"`

	HeaderStart int64 `json:"hs"`
	// HeaderEnd is the offset just after the blank line ending the header
	// (or where the header stopped when there is no blank line).
	HeaderEnd int64 `json:"he"`
	BodyStart int64 `json:"bs"` // == HeaderEnd
	BodyEnd   int64 `json:"be"`
	// Size is BodyEnd-BodyStart: the octets of BODY[section].
	Size int64 `json:"size"`
	// Lines is the number of line breaks (LF) in the body range; a last
	// line without a line break does not count (same as Dovecot).
	Lines int64 `json:"lines"`
	// DecodedSize is the size of the body after Content-Transfer-Encoding
	// decoding (for leaves; equals Size for identity encodings).
	DecodedSize int64 `json:"dsize"`
	// Opaque is set when a multipart or message part was not descended into
	// (no boundary, nesting or part limit, or a message/rfc822 with a
	// non-identity transfer encoding). Its body is a plain leaf, and IMAP
	// BODYSTRUCTURE presents it as application/octet-stream.
	Opaque bool `json:"opaque,omitempty"`
	// Truncated is set on a multipart whose parts beyond Limits.MaxParts were
	// not split: they stay as opaque bytes after the last child.
	Truncated bool `json:"trunc,omitempty"`
	// Children are the body parts of an expanded multipart, in order.
	Children []*Part `json:"parts,omitempty"`
	// Message is the root of the embedded message of a message/rfc822 (or
	// message/global) part; its HeaderStart is this part's BodyStart.
	Message *Part `json:"msg,omitempty"`
	// Envelope is the IMAP ENVELOPE of Message.
	Envelope string `json:"env,omitempty"`

	// Parse-time only (not serialized).
	nlStart   int64
	hasCT     bool        // Content-Type header present and parsable
	paramList [][2]string // Content-Type params for IMAP (RFC 2231 merged, still encoded)
	dispList  [][2]string
	kind      partKind
	env       string
}

type partKind uint8

const (
	kindAttachment partKind = iota
	kindPlain
	kindHTML
	kindContainer
	kindRelated // attachment with a Content-ID inside multipart/related
	kindInner   // leaf inside an attached message
)

// ContentType returns "type/subtype".
func (p *Part) ContentType() string { return p.Type + "/" + p.Subtype }

// IsMultipart reports whether the part is an expanded multipart (Children
// are its body parts).
func (p *Part) IsMultipart() bool { return p.Type == "multipart" && !p.Opaque }
