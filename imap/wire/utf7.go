package wire

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used with clients
// that have not enabled UTF8=ACCEPT (RFC 6855 §3).
//
// Printable US-ASCII (0x20-0x7E) except "&" stands for itself; "&" is
// written "&-"; everything else is UTF-16BE encoded in modified base64
// (RFC 2045 alphabet with "," instead of "/", no padding) between "&" and
// "-".

const mb64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var mb64Index [256]int8

func init() {
	for i := range mb64Index {
		mb64Index[i] = -1
	}
	for i := 0; i < len(mb64); i++ {
		mb64Index[mb64[i]] = int8(i)
	}
}

func printableASCII(r rune) bool { return r >= 0x20 && r <= 0x7e }

// EncodeMUTF7 encodes a UTF-8 mailbox name in modified UTF-7. Invalid UTF-8
// bytes are encoded as U+FFFD.
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var run []uint16 // UTF-16 units awaiting encoding
	flush := func() {
		if len(run) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range run {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(mb64[(acc>>uint(bits))&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(mb64[(acc<<uint(6-bits))&0x3f])
		}
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s { // invalid bytes come as utf8.RuneError
		if printableASCII(r) {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		run = utf16.AppendRune(run, r)
	}
	flush()
	return b.String()
}

// DecodeMUTF7 decodes a modified UTF-7 mailbox name into UTF-8. It is
// strict, accepting only the canonical encoding EncodeMUTF7 produces, so
// that a name has exactly one spelling: it rejects raw bytes outside
// 0x20-0x7E, unterminated or malformed base64, non-zero padding bits,
// unpaired surrogates, base64 runs that encode printable ASCII (which
// "MUST" represent itself, RFC 3501 §5.1.3), and adjacent base64 runs
// ("&AO4-&AO4-", which a canonical encoder writes as one).
func DecodeMUTF7(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", errorf("invalid modified UTF-7 mailbox name: %s", why)
	}
	var b strings.Builder
	prevRun := false // the previous token was a non-empty base64 run
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return bad("non-ASCII or control byte")
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			prevRun = false
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return bad("unterminated base64")
		}
		enc := s[i+1 : i+1+j]
		i += j + 2
		if enc == "" {
			b.WriteByte('&')
			prevRun = false
			continue
		}
		if prevRun {
			return bad("adjacent base64 runs")
		}
		prevRun = true
		var units []uint16
		var acc uint32
		bits := 0
		for k := 0; k < len(enc); k++ {
			v := mb64Index[enc[k]]
			if v < 0 {
				return bad("invalid base64 character")
			}
			acc = acc<<6 | uint32(v)
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>uint(bits)))
				acc &= 1<<uint(bits) - 1
			}
		}
		if bits >= 6 || acc != 0 || len(units) == 0 {
			return bad("bad base64 padding")
		}
		for k := 0; k < len(units); k++ {
			u := rune(units[k])
			switch {
			case utf16.IsSurrogate(u):
				if u >= 0xdc00 || k+1 >= len(units) {
					return bad("unpaired surrogate")
				}
				r := utf16.DecodeRune(u, rune(units[k+1]))
				if r == utf8.RuneError {
					return bad("unpaired surrogate")
				}
				b.WriteRune(r)
				k++
			case printableASCII(u):
				return bad("encoded printable ASCII")
			default:
				b.WriteRune(u)
			}
		}
	}
	return b.String(), nil
}
