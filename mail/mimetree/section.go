package mimetree

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoSection is returned for a section that does not exist in the message.
var ErrNoSection = errors.New("mimetree: no such section")

// FindPart resolves an IMAP section number such as "1.2.3" (RFC 3501 §6.4.5).
// A non-multipart message has the single part "1" (the root itself); the
// parts of an attached message/rfc822 are addressed through its part number
// ("2.1" is the first part of the message in part 2, or its body when that
// message is not multipart). The empty section returns the root.
func (m *Meta) FindPart(section string) (*Part, error) {
	if m == nil || m.Root == nil {
		return nil, ErrNoSection
	}
	if section == "" {
		return m.Root, nil
	}
	var p *Part
	for i, s := range strings.Split(section, ".") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || (len(s) > 1 && s[0] == '0') {
			return nil, fmt.Errorf("%w: %q", ErrNoSection, section)
		}
		var msg *Part // a message whose parts are numbered next
		switch {
		case i == 0:
			msg = m.Root
		case p.Message != nil:
			msg = p.Message
		case p.IsMultipart():
			if n > len(p.Children) {
				return nil, fmt.Errorf("%w: %q", ErrNoSection, section)
			}
			p = p.Children[n-1]
			continue
		default:
			return nil, fmt.Errorf("%w: %q", ErrNoSection, section)
		}
		if msg.IsMultipart() {
			if n > len(msg.Children) {
				return nil, fmt.Errorf("%w: %q", ErrNoSection, section)
			}
			p = msg.Children[n-1]
		} else {
			if n != 1 {
				return nil, fmt.Errorf("%w: %q", ErrNoSection, section)
			}
			p = msg
		}
	}
	return p, nil
}

// SectionRange returns the byte range of BODY[section] (spec ""),
// BODY[section.HEADER], BODY[section.TEXT] or BODY[section.MIME] (RFC 3501
// §6.4.5). With an empty section, spec "" is the whole message and
// "HEADER"/"TEXT" are the top-level header and body. HEADER and TEXT of a
// non-empty section need a message/rfc822 part; MIME needs a section.
// HEADER.FIELDS is derived by the caller from the HEADER bytes.
func (m *Meta) SectionRange(section, spec string) (off, n int64, err error) {
	spec = strings.ToUpper(spec)
	p, err := m.FindPart(section)
	if err != nil {
		return 0, 0, err
	}
	if section == "" {
		switch spec {
		case "":
			return 0, m.Size, nil
		case "HEADER":
			return p.HeaderStart, p.HeaderEnd - p.HeaderStart, nil
		case "TEXT":
			return p.BodyStart, p.BodyEnd - p.BodyStart, nil
		}
		return 0, 0, fmt.Errorf("%w: %s without a part number", ErrNoSection, spec)
	}
	switch spec {
	case "":
		return p.BodyStart, p.BodyEnd - p.BodyStart, nil
	case "MIME":
		return p.HeaderStart, p.HeaderEnd - p.HeaderStart, nil
	case "HEADER", "TEXT":
		msg := p.Message
		if msg == nil {
			return 0, 0, fmt.Errorf("%w: %s.%s: not a message/rfc822 part", ErrNoSection, section, spec)
		}
		if spec == "HEADER" {
			return msg.HeaderStart, msg.HeaderEnd - msg.HeaderStart, nil
		}
		return msg.BodyStart, msg.BodyEnd - msg.BodyStart, nil
	}
	return 0, 0, fmt.Errorf("%w: unknown section text %q", ErrNoSection, spec)
}
