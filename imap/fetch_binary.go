package imap

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// BINARY[part]<partial> and BINARY.SIZE[part] (RFC 3516 §4.2): a part's
// content with its Content-Transfer-Encoding undone.
//
// The decoded size must be known before the literal8 is written, and the
// part may be large, so it is never decoded into memory: the part is
// decoded twice from the store, once to count (this also proves that it
// decodes: a broken encoding is answered "NO [UNKNOWN-CTE]" before any
// byte of the response is written) and once to send. The two passes read
// the same stored bytes through the same decoder, so they agree.
//
// A part with an identity encoding (7bit, 8bit, binary) and a multipart or
// message part (which RFC 2045 §6.4 forbids to be encoded) are sent as
// stored; BINARY[] is the whole message as stored.

func init() {
	advertise("BINARY")
}

// errUnknownCTE marks a part whose encoding cannot be undone.
var errUnknownCTE = errors.New("unknown or broken content transfer encoding")

// binaryPart finds the part and the decoding a BINARY item needs.
// ok == false: the part does not exist (NIL).
func binaryPart(meta *mimetree.Meta, parts []uint32) (off, n int64, enc string, ok bool, err error) {
	sec := partString(parts)
	off, n, err = meta.SectionRange(sec, "")
	if errors.Is(err, mimetree.ErrNoSection) {
		return 0, 0, "", false, nil
	}
	if err != nil {
		return 0, 0, "", false, err
	}
	if sec == "" {
		return off, n, "", true, nil
	}
	p, err := meta.FindPart(sec)
	if err != nil {
		return 0, 0, "", false, nil
	}
	if p.IsMultipart() || p.Message != nil {
		return off, n, "", true, nil
	}
	switch e := strings.ToLower(p.Encoding); e {
	case "", "7bit", "8bit", "binary":
		return off, n, "", true, nil
	case "base64", "quoted-printable":
		return off, n, e, true, nil
	}
	return 0, 0, "", false, errUnknownCTE
}

// decoder wraps r with the decoder of enc ("" = identity).
func decoder(r io.Reader, enc string) io.Reader {
	switch enc {
	case "base64":
		return base64.NewDecoder(base64.RawStdEncoding, &b64Filter{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// b64Filter passes only base64 alphabet characters: line breaks, padding
// and junk are dropped (RFC 2045 §6.8 tells decoders to ignore characters
// outside the alphabet), so RawStdEncoding sees one unbroken quantum run.
type b64Filter struct{ r io.Reader }

func (f *b64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// decodedSize counts the decoded bytes of [off, off+n) (first pass).
func (s *Session) decodedSize(m *store.Message, off, n int64, enc string) (int64, error) {
	if enc == "" {
		return n, nil
	}
	rc, err := s.svc.Store.OpenMessage(s.ctx, m, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	size, err := io.Copy(io.Discard, decoder(rc, enc))
	if err != nil {
		// The store reads fine elsewhere; a decoder error is the part's.
		return 0, fmt.Errorf("%w: %v", errUnknownCTE, err)
	}
	return size, nil
}

// resolveBinary prepares a BINARY or BINARY.SIZE item: the decoded size
// (after the partial) and, for BINARY, where to stream it from.
func (s *Session) resolveBinary(m *store.Message, meta *mimetree.Meta, it wire.FetchItem) (sectionData, error) {
	off, n, enc, ok, err := binaryPart(meta, it.Section.Parts)
	if err != nil || !ok {
		return sectionData{}, err
	}
	size, err := s.decodedSize(m, off, n, enc)
	if err != nil {
		return sectionData{}, err
	}
	sd := sectionData{exists: true, binary: true, off: off, n: n, enc: enc, size: size}
	sd.skip, sd.size = applyPartial(0, size, it.Partial)
	return sd, nil
}

// writeBinary streams a resolved BINARY item as a literal8 (RFC 3516 §4.3).
func (s *Session) writeBinary(m *store.Message, sd sectionData) error {
	if !sd.exists {
		s.w.NIL()
		return nil
	}
	if sd.size == 0 {
		s.w.Raw(`""`)
		return nil
	}
	if sd.enc == "" {
		rc, err := s.svc.Store.OpenMessage(s.ctx, m, sd.off+sd.skip, sd.size)
		if err != nil {
			return err
		}
		defer rc.Close()
		return s.w.Literal(sd.size, rc, true)
	}
	rc, err := s.svc.Store.OpenMessage(s.ctx, m, sd.off, sd.n)
	if err != nil {
		return err
	}
	defer rc.Close()
	d := decoder(rc, sd.enc)
	if _, err := io.CopyN(io.Discard, d, sd.skip); err != nil {
		return fmt.Errorf("skip %d decoded bytes: %w", sd.skip, err)
	}
	return s.w.Literal(sd.size, d, true)
}
