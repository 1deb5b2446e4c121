package mail

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/eidermail/eider/mail/mimetree"
)

// The Summary of a message (store.Message.Summary) holds its address lists
// for message listings. It is written at append in a compact binary form,
// read on every row of every list page, where decoding JSON cost a tenth of
// the CPU of a list request:
//
//	0x01                         version
//	4 × list (From, To, Cc, Bcc)
//	  uvarint count
//	  count × (uvarint len, name bytes, uvarint len, address bytes)
//
// Summaries that begin with '{' are the JSON object of ListAddresses, as
// migrations/sqlite/0004_list_summary.sql wrote them for messages stored
// before; both forms are read.
const summaryV1 = 0x01

// appendSummary encodes a in the binary form.
func appendSummary(b []byte, a *ListAddresses) []byte {
	b = append(b, summaryV1)
	for _, l := range [][]mimetree.Address{a.From, a.To, a.Cc, a.Bcc} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, ad := range l {
			b = binary.AppendUvarint(b, uint64(len(ad.Name)))
			b = append(b, ad.Name...)
			b = binary.AppendUvarint(b, uint64(len(ad.Address)))
			b = append(b, ad.Address...)
		}
	}
	return b
}

var errSummary = errors.New("malformed summary")

// decodeSummary reads the binary form.
func decodeSummary(b []byte) (*ListAddresses, error) {
	if len(b) == 0 || b[0] != summaryV1 {
		return nil, fmt.Errorf("%w: version %v", errSummary, b[:min(1, len(b))])
	}
	i := 1
	uvarint := func() (int, error) {
		v, n := binary.Uvarint(b[i:])
		if n <= 0 || v > uint64(len(b)) {
			return 0, errSummary
		}
		i += n
		return int(v), nil
	}
	str := func() (string, error) {
		n, err := uvarint()
		if err != nil || n > len(b)-i {
			return "", errSummary
		}
		s := string(b[i : i+n])
		i += n
		return s, nil
	}
	var a ListAddresses
	for _, l := range []*[]mimetree.Address{&a.From, &a.To, &a.Cc, &a.Bcc} {
		n, err := uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		// Each entry takes at least two bytes: n is bounded by the input.
		if n > (len(b)-i)/2 {
			return nil, errSummary
		}
		*l = make([]mimetree.Address, n)
		for k := range *l {
			if (*l)[k].Name, err = str(); err != nil {
				return nil, err
			}
			if (*l)[k].Address, err = str(); err != nil {
				return nil, err
			}
		}
	}
	if i != len(b) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errSummary, len(b)-i)
	}
	return &a, nil
}
