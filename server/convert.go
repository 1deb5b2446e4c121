package server

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// Conversions from the core's types to the contract's.

func toAddress(a store.Address) api.Address {
	return api.Address{Id: a.ID, Address: a.Address, Main: a.Main, Created: a.Created.UTC()}
}

func toUser(u *store.User, addrs []store.Address) api.User {
	out := api.User{
		Id:        u.ID,
		Username:  u.Username,
		Quota:     api.Quota{Limit: u.QuotaLimit, Used: u.StorageUsed},
		Disabled:  u.Disabled,
		Created:   u.Created.UTC(),
		Addresses: make([]api.Address, 0, len(addrs)),
	}
	for _, a := range addrs {
		out.Addresses = append(out.Addresses, toAddress(a))
		if a.Main {
			out.Address = &a.Address
		}
	}
	return out
}

func toMailbox(mb *store.Mailbox, c store.Counters) api.Mailbox {
	name := mb.Name
	if i := strings.LastIndex(name, store.Separator); i >= 0 {
		name = name[i+1:]
	}
	out := api.Mailbox{
		Id:          mb.ID,
		Path:        mb.Name,
		Name:        name,
		Subscribed:  mb.Subscribed,
		UidValidity: int64(mb.UIDValidity),
		UidNext:     int64(mb.UIDNext),
		Total:       c.Total,
		Unseen:      c.Unseen,
		Size:        c.Size,
	}
	if mb.SpecialUse != "" {
		su := api.MailboxSpecialUse(mb.SpecialUse)
		out.SpecialUse = &su
	}
	return out
}

func toEmails(as []mimetree.Address) []api.EmailAddress {
	out := make([]api.EmailAddress, 0, len(as))
	for _, a := range as {
		e := api.EmailAddress{Address: a.Address}
		if a.Name != "" {
			e.Name = &a.Name
		}
		out = append(out, e)
	}
	return out
}

func toSummary(m *store.Message, meta *mail.ListAddresses) api.MessageSummary {
	date := m.Date
	if date.IsZero() {
		date = m.InternalDate
	}
	internal := m.InternalDate.UTC()
	flags := m.Flags
	if flags == nil {
		flags = []string{}
	}
	return api.MessageSummary{
		Id:             m.ID,
		Mailbox:        m.MailboxID,
		Uid:            int64(m.UID),
		Date:           date.UTC(),
		InternalDate:   &internal,
		Flags:          flags,
		Size:           m.Size,
		HasAttachments: m.HasAttachments,
		Intro:          m.Intro,
		Subject:        m.Subject,
		From:           toEmails(meta.From),
		To:             toEmails(meta.To),
		Cc:             toEmails(meta.Cc),
		Bcc:            toEmails(meta.Bcc),
		Thread:         m.ThreadID,
	}
}

// attachmentURL is the API path that serves an attachment.
func attachmentURL(userID, mailboxID, messageID, attID string) string {
	return "/users/" + url.PathEscape(userID) + "/mailboxes/" + url.PathEscape(mailboxID) +
		"/messages/" + url.PathEscape(messageID) + "/attachments/" + url.PathEscape(attID)
}

// Cursors name a position in a newest-first listing: "o" + position lists
// what is older, "n" + position what is newer. They are opaque to clients
// (base64url) but carry no secret.
type cursor struct {
	newer   bool
	mailbox string // search across mailboxes only
	uid     uint32
}

func (c cursor) String() string {
	d := "o"
	if c.newer {
		d = "n"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(d + ":" + c.mailbox + ":" + strconv.FormatUint(uint64(c.uid), 10)))
}

func parseCursor(s *string) (*cursor, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*s)
	bad := errInvalid("cursor", "not a cursor from this API")
	if err != nil {
		return nil, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || (parts[0] != "o" && parts[0] != "n") {
		return nil, bad
	}
	uid, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil || uid == 0 {
		return nil, bad
	}
	return &cursor{newer: parts[0] == "n", mailbox: parts[1], uid: uint32(uid)}, nil
}

func pageLimit(l *int) int {
	if l == nil {
		return 20
	}
	return *l
}

func strPtr(s string) *string { return &s }

// safeFilename keeps a file name fit for Content-Disposition: no path, no
// control characters or quotes; an ASCII fallback plus the UTF-8 form
// (RFC 6266 §4.3, RFC 8187).
func contentDisposition(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	if name == "" {
		name = "attachment"
	}
	ascii := strings.Map(func(r rune) rune {
		if r > 0x7e || r == '%' || r == ';' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, ascii, extValue(name))
}

// extValue percent-encodes everything but RFC 8187 attr-char.
func extValue(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
