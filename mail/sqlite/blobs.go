package sqlite

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// Segment list encoding (message_data.segments), compact and binary:
//
//	version byte 1, then per segment:
//	  kind byte: 0 inline, 1 SHA-256 hex hash (stored as 32 raw bytes), 2 other hash
//	  uvarint size
//	  inline: size bytes | kind 1: 32 bytes | kind 2: uvarint len + bytes
const segVersion = 1

func encodeSegments(segs []blob.Segment) []byte {
	n := 1
	for _, s := range segs {
		n += 1 + binary.MaxVarintLen64 + len(s.Inline) + 32
	}
	b := make([]byte, 0, n)
	b = append(b, segVersion)
	for _, s := range segs {
		switch {
		case s.Hash == "":
			b = append(b, 0)
			b = binary.AppendUvarint(b, uint64(len(s.Inline)))
			b = append(b, s.Inline...)
		case isSHA256Hex(s.Hash):
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(s.Size))
			b, _ = hex.AppendDecode(b, []byte(s.Hash))
		default:
			b = append(b, 2)
			b = binary.AppendUvarint(b, uint64(s.Size))
			b = binary.AppendUvarint(b, uint64(len(s.Hash)))
			b = append(b, s.Hash...)
		}
	}
	return b
}

var errBadSegments = errors.New("corrupt segment list")

func decodeSegments(b []byte) ([]blob.Segment, error) {
	if len(b) == 0 || b[0] != segVersion {
		return nil, errBadSegments
	}
	b = b[1:]
	var segs []blob.Segment
	for len(b) > 0 {
		kind := b[0]
		size, n := binary.Uvarint(b[1:])
		if n <= 0 {
			return nil, errBadSegments
		}
		b = b[1+n:]
		switch kind {
		case 0:
			if uint64(len(b)) < size {
				return nil, errBadSegments
			}
			segs = append(segs, blob.Segment{Inline: b[:size:size], Size: int64(size)})
			b = b[size:]
		case 1:
			if len(b) < 32 {
				return nil, errBadSegments
			}
			segs = append(segs, blob.Segment{Hash: hex.EncodeToString(b[:32]), Size: int64(size)})
			b = b[32:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errBadSegments
			}
			segs = append(segs, blob.Segment{Hash: string(b[n : n+int(l)]), Size: int64(size)})
			b = b[n+int(l):]
		default:
			return nil, errBadSegments
		}
	}
	return segs, nil
}

func isSHA256Hex(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkSegments verifies that segs partition exactly size bytes.
func checkSegments(segs []blob.Segment, size int64) error {
	var sum int64
	for i, s := range segs {
		if s.Hash != "" && len(s.Inline) > 0 {
			return fmt.Errorf("segment %d: both inline bytes and hash: %w", i, store.ErrInvalidInput)
		}
		if s.Hash == "" && int64(len(s.Inline)) != s.Size {
			return fmt.Errorf("segment %d: size %d != %d inline bytes: %w", i, s.Size, len(s.Inline), store.ErrInvalidInput)
		}
		if s.Size < 0 {
			return fmt.Errorf("segment %d: negative size: %w", i, store.ErrInvalidInput)
		}
		sum += s.Size
	}
	if len(segs) > 0 && sum != size || size < 0 {
		return fmt.Errorf("segments hold %d bytes, message size is %d: %w", sum, size, store.ErrInvalidInput)
	}
	return nil
}

// blobHashes lists the hash of every blob segment (with repeats: each
// segment is one reference).
func blobHashes(segs []blob.Segment) []string {
	var hs []string
	for _, s := range segs {
		if s.Hash != "" {
			hs = append(hs, s.Hash)
		}
	}
	return hs
}

// refBlobs takes one reference per blob segment.
func refBlobs(t *wtx, segs []blob.Segment) error {
	for _, s := range segs {
		if s.Hash == "" {
			continue
		}
		if _, err := t.exec(`INSERT INTO blob_refs(hash, refs, size) VALUES (?, 1, ?)
			ON CONFLICT(hash) DO UPDATE SET refs = refs + 1`, s.Hash, s.Size); err != nil {
			return fmt.Errorf("blob ref %s: %w", s.Hash, err)
		}
	}
	return nil
}

// unrefBlobs drops references; hashes reaching zero are removed from
// blob_refs and queued for deletion after commit.
func unrefBlobs(t *wtx, counts map[string]int64) error {
	for h, n := range counts {
		var left int64
		err := t.row(`UPDATE blob_refs SET refs = refs - ? WHERE hash = ? RETURNING refs`, n, h).Scan(&left)
		if err != nil {
			return fmt.Errorf("blob unref %s: %w", h, err)
		}
		if left <= 0 {
			if _, err := t.exec(`DELETE FROM blob_refs WHERE hash = ?`, h); err != nil {
				return fmt.Errorf("blob unref %s: %w", h, err)
			}
			t.drop = append(t.drop, h)
		}
	}
	return nil
}

// unrefMessages drops the blob references of the messages selected by
// sel (a query returning mno, with one argument).
func unrefMessages(t *wtx, sel string, arg any) error {
	rows, err := t.query(`SELECT d.segments FROM message_data d WHERE d.mno IN (`+sel+`)`, arg)
	if err != nil {
		return err
	}
	counts := map[string]int64{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return err
		}
		segs, err := decodeSegments(b)
		if err != nil {
			rows.Close()
			return err
		}
		for _, h := range blobHashes(segs) {
			counts[h]++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return unrefBlobs(t, counts)
}
