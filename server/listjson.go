package server

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// The message list response (api.MessageList) written straight from the
// store's messages into bytes, without building api.MessageSummary values
// and without reflection. The output is byte for byte what the generated
// api.ListMessages200JSONResponse writes through encoding/json (fields in
// struct order, HTML-safe string escaping, RFC 3339 times, a final
// newline); TestListJSONMatchesEncodingJSON holds it to that.

// listBufs recycles response buffers across requests.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// listResponse is a ListMessages 200 response with its body already encoded.
type listResponse struct{ body *[]byte }

// VisitListMessagesResponse writes the body and returns its buffer to
// the pool.
func (r listResponse) VisitListMessagesResponse(w http.ResponseWriter) error {
	defer func() {
		if cap(*r.body) <= 1<<20 {
			*r.body = (*r.body)[:0]
			listBufs.Put(r.body)
		}
	}()
	w.Header().Set("Content-Type", "application/json")
	// The length is known: one write, no chunked encoding (RFC 9112 §6.3).
	w.Header().Set("Content-Length", strconv.Itoa(len(*r.body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(*r.body)
	return err
}

// encodeList encodes an api.MessageList of ms with the given cursors
// (nil: absent).
func encodeList(ms []store.Message, next, prev *string) (listResponse, error) {
	bp := listBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"messages":[`...)
	for i := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		a, err := mail.Addresses(&ms[i])
		if err != nil {
			*bp = b
			listBufs.Put(bp)
			return listResponse{}, err
		}
		if b, err = appendSummaryJSON(b, &ms[i], a); err != nil {
			*bp = b
			listBufs.Put(bp)
			return listResponse{}, err
		}
	}
	b = append(b, ']')
	if next != nil {
		b = append(b, `,"nextCursor":`...)
		b = appendJSONString(b, *next)
	}
	if prev != nil {
		b = append(b, `,"previousCursor":`...)
		b = appendJSONString(b, *prev)
	}
	b = append(b, "}\n"...)
	*bp = b
	return listResponse{body: bp}, nil
}

// appendSummaryJSON appends the api.MessageSummary of m (as toSummary
// builds it) as JSON.
func appendSummaryJSON(b []byte, m *store.Message, a *mail.ListAddresses) ([]byte, error) {
	date := m.Date
	if date.IsZero() {
		date = m.InternalDate
	}
	var err error
	b = append(b, `{"bcc":`...)
	b = appendEmailsJSON(b, a.Bcc)
	b = append(b, `,"cc":`...)
	b = appendEmailsJSON(b, a.Cc)
	b = append(b, `,"date":`...)
	if b, err = appendTimeJSON(b, date.UTC()); err != nil {
		return b, err
	}
	b = append(b, `,"flags":[`...)
	for i, f := range m.Flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
	}
	b = append(b, `],"from":`...)
	b = appendEmailsJSON(b, a.From)
	b = append(b, `,"hasAttachments":`...)
	b = strconv.AppendBool(b, m.HasAttachments)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"internalDate":`...)
	if b, err = appendTimeJSON(b, m.InternalDate.UTC()); err != nil {
		return b, err
	}
	b = append(b, `,"intro":`...)
	b = appendJSONString(b, m.Intro)
	b = append(b, `,"mailbox":`...)
	b = appendJSONString(b, m.MailboxID)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, m.Size, 10)
	b = append(b, `,"subject":`...)
	b = appendJSONString(b, m.Subject)
	b = append(b, `,"thread":`...)
	b = appendJSONString(b, m.ThreadID)
	b = append(b, `,"to":`...)
	b = appendEmailsJSON(b, a.To)
	b = append(b, `,"uid":`...)
	b = strconv.AppendUint(b, uint64(m.UID), 10)
	return append(b, '}'), nil
}

// appendEmailsJSON appends an []api.EmailAddress (name omitted when empty).
func appendEmailsJSON(b []byte, as []mimetree.Address) []byte {
	b = append(b, '[')
	for i := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"address":`...)
		b = appendJSONString(b, as[i].Address)
		if as[i].Name != "" {
			b = append(b, `,"name":`...)
			b = appendJSONString(b, as[i].Name)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTimeJSON appends t as time.Time.MarshalJSON does: RFC 3339 with
// nanoseconds, years 0–9999 only (RFC 3339 §5.6).
func appendTimeJSON(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the ASCII bytes a JSON string holds as they are.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string (RFC 8259 §7) escaped as
// encoding/json does with HTML escaping on: '"' and '\\' and the control
// characters (short forms for \b \f \n \r \t), '<', '>' and '&' as \u00XX,
// invalid UTF-8 as U+FFFD, and U+2028/U+2029 as \u2028/\u2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// The list response must satisfy the generated interface.
var _ api.ListMessagesResponseObject = listResponse{}
