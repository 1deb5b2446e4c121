package mail

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/store"
)

// Composition is a message written by a user through the API, before it
// is an RFC 5322 message.
type Composition struct {
	From         gomail.Address
	To, Cc, Bcc  []gomail.Address
	Subject      string
	Text, HTML   string
	InReplyTo    string   // message id without angle brackets
	References   []string // message ids without angle brackets
	Attachments  []ComposedAttachment
	Date         time.Time
	MessageIDDom string // domain for the generated Message-ID
}

// ComposedAttachment is one attachment of a Composition.
type ComposedAttachment struct {
	Filename    string
	ContentType string
	Content     []byte
}

// Recipients returns every envelope recipient: To, Cc and Bcc.
func (c *Composition) Recipients() []string {
	var out []string
	for _, l := range [][]gomail.Address{c.To, c.Cc, c.Bcc} {
		for _, a := range l {
			out = append(out, a.Address)
		}
	}
	return out
}

// Compose builds the RFC 5322 message (RFC 2045-2047 MIME, RFC 2231
// parameters for non-ASCII file names): text and HTML as
// multipart/alternative, attachments around them in multipart/mixed. Bcc
// recipients are not written into the header (RFC 5322 §3.6.3 allows
// either; leaving them out is what keeps them blind).
func Compose(c *Composition) ([]byte, error) {
	for _, a := range append(append(append([]gomail.Address{c.From}, c.To...), c.Cc...), c.Bcc...) {
		if _, _, err := address.Split(a.Address); err != nil {
			return nil, fmt.Errorf("compose: %w: address %q: %v", store.ErrInvalidInput, a.Address, err)
		}
	}
	if c.Text == "" && c.HTML == "" && len(c.Attachments) == 0 {
		return nil, fmt.Errorf("compose: %w: no text, html or attachment", store.ErrInvalidInput)
	}
	var h gomail.Header
	h.SetDate(c.Date)
	h.SetAddressList("From", []*gomail.Address{&c.From})
	if len(c.To) > 0 {
		h.SetAddressList("To", ptrs(c.To))
	}
	if len(c.Cc) > 0 {
		h.SetAddressList("Cc", ptrs(c.Cc))
	}
	h.SetSubject(c.Subject)
	dom := c.MessageIDDom
	if dom == "" {
		dom = "eider.invalid"
	}
	if err := h.GenerateMessageIDWithHostname(dom); err != nil {
		return nil, fmt.Errorf("compose: message id: %w", err)
	}
	if c.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{c.InReplyTo})
		refs := c.References
		if len(refs) == 0 || refs[len(refs)-1] != c.InReplyTo {
			refs = append(refs, c.InReplyTo)
		}
		h.SetMsgIDList("References", refs)
	}
	h.Set("MIME-Version", "1.0")

	var buf bytes.Buffer
	if len(c.Attachments) == 0 {
		// No attachments: the body is the text (or the alternative) itself.
		iw, err := gomail.CreateInlineWriter(&buf, h)
		if err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		if err := writeBodies(iw, c); err != nil {
			return nil, err
		}
		if err := iw.Close(); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		return buf.Bytes(), nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	if c.Text != "" || c.HTML != "" {
		iw, err := mw.CreateInline()
		if err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
		if err := writeBodies(iw, c); err != nil {
			return nil, err
		}
		if err := iw.Close(); err != nil {
			return nil, fmt.Errorf("compose: %w", err)
		}
	}
	for _, a := range c.Attachments {
		var ah gomail.AttachmentHeader
		ct := a.ContentType
		if _, _, err := mime.ParseMediaType(ct); err != nil || ct == "" {
			ct = "application/octet-stream"
		}
		ah.SetContentType(strings.ToLower(ct), nil)
		ah.SetFilename(a.Filename)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, fmt.Errorf("compose: attachment: %w", err)
		}
		if _, err := w.Write(a.Content); err != nil {
			return nil, fmt.Errorf("compose: attachment: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("compose: attachment: %w", err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return buf.Bytes(), nil
}

func writeBodies(iw *gomail.InlineWriter, c *Composition) error {
	part := func(ct, body string) error {
		var ih gomail.InlineHeader
		ih.SetContentType(ct, map[string]string{"charset": "utf-8"})
		w, err := iw.CreatePart(ih)
		if err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		if _, err := io.WriteString(w, body); err != nil {
			return fmt.Errorf("compose: %w", err)
		}
		return w.Close()
	}
	if c.Text != "" || c.HTML == "" {
		if err := part("text/plain", c.Text); err != nil {
			return err
		}
	}
	if c.HTML != "" {
		return part("text/html", c.HTML)
	}
	return nil
}

func ptrs(as []gomail.Address) []*gomail.Address {
	out := make([]*gomail.Address, len(as))
	for i := range as {
		out[i] = &as[i]
	}
	return out
}
