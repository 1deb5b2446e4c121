package mail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// AttachmentContent returns the attachment with the given id ("ATT00001")
// of a stored message and its content with the Content-Transfer-Encoding
// undone (RFC 2045 §6). The result holds at most the attachment's decoded
// size, which is bounded by the message size limit. ErrNotFound when the
// message has no such attachment.
func (s *Service) AttachmentContent(ctx context.Context, m *store.Message, meta *mimetree.Meta, id string) (*mimetree.Attachment, []byte, error) {
	var att *mimetree.Attachment
	for i := range meta.Attachments {
		if meta.Attachments[i].ID == id {
			att = &meta.Attachments[i]
			break
		}
	}
	if att == nil {
		return nil, nil, fmt.Errorf("attachment %s: %w", id, store.ErrNotFound)
	}
	part, err := meta.FindPart(att.Part)
	if err != nil {
		return nil, nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	rc, err := s.Store.OpenMessage(ctx, m, part.BodyStart, part.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, part.Size))
	if err != nil {
		return nil, nil, fmt.Errorf("attachment %s: read: %w", id, err)
	}
	switch strings.ToLower(att.TransferEncoding) {
	case "base64":
		return att, decodeBase64(raw), nil
	case "quoted-printable":
		return att, decodeQP(raw), nil
	}
	return att, raw, nil
}

// decodeBase64 decodes leniently, as RFC 2045 §6.8 asks, and the same way
// the parser measured the decoded size: characters outside the alphabet
// (line breaks, junk) are ignored, "=" ends a quantum early and decoding
// goes on after it (concatenated encodings), and a partial final quantum
// yields the bytes it fully holds.
func decodeBase64(raw []byte) []byte {
	out := make([]byte, 0, len(raw)*3/4)
	var q uint32
	n := 0
	end := func() {
		switch n {
		case 2:
			out = append(out, byte(q>>4))
		case 3:
			out = append(out, byte(q>>10), byte(q>>2))
		}
		q, n = 0, 0
	}
	for _, c := range raw {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		case c == '=':
			end()
			continue
		default:
			continue
		}
		q = q<<6 | uint32(v)
		if n++; n == 4 {
			out = append(out, byte(q>>16), byte(q>>8), byte(q))
			q, n = 0, 0
		}
	}
	end()
	return out
}

// decodeQP decodes quoted-printable leniently (RFC 2045 §6.7): "=XX" in
// either case is a byte; "=" at the end of a line (whitespace allowed after
// it) is a soft line break; whitespace at the end of a line is dropped
// (rule 3); any other "=" stays as it is.
func decodeQP(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		line := raw
		eol := bytes.IndexByte(raw, '\n')
		var br []byte
		if eol >= 0 {
			line, raw = raw[:eol], raw[eol+1:]
			br = []byte("\n")
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
				br = []byte("\r\n")
			}
		} else {
			raw = nil
		}
		line = bytes.TrimRight(line, " \t")
		if len(line) > 0 && line[len(line)-1] == '=' {
			line, br = line[:len(line)-1], nil // soft line break
		}
		for i := 0; i < len(line); i++ {
			if line[i] == '=' && i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
				out = append(out, unhex(line[i+1])<<4|unhex(line[i+2]))
				i += 2
				continue
			}
			out = append(out, line[i])
		}
		out = append(out, br...)
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
