package mimetree

import (
	"encoding/base64"
	"math/rand"
	"testing"
)

// TestB64CountMatchesDecode: the count-only path (a sink that keeps
// nothing, as for attachments) reports the same decoded size as decoding,
// on valid base64 with line breaks, "=" padding in the middle, junk
// characters and any split of the input into writes.
func TestB64CountMatchesDecode(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	alpha := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n !*")
	for i := 0; i < 2000; i++ {
		var in []byte
		switch i % 3 {
		case 0: // valid, wrapped at 76
			raw := make([]byte, rnd.Intn(3000))
			rnd.Read(raw)
			enc := base64.StdEncoding.EncodeToString(raw)
			for len(enc) > 76 {
				in = append(append(in, enc[:76]...), "\r\n"...)
				enc = enc[76:]
			}
			in = append(in, enc...)
		case 1: // concatenated encodings
			for k := rnd.Intn(4); k >= 0; k-- {
				raw := make([]byte, rnd.Intn(10))
				rnd.Read(raw)
				in = append(in, base64.StdEncoding.EncodeToString(raw)...)
			}
		default: // junk
			in = make([]byte, rnd.Intn(500))
			for j := range in {
				in[j] = alpha[rnd.Intn(len(alpha))]
			}
		}
		full := &sink{collect: true, max: 1 << 30}
		cnt := &sink{}
		var df, dc b64Decoder
		for rest := in; len(rest) > 0; {
			k := 1 + rnd.Intn(len(rest))
			df.write(rest[:k], full)
			dc.write(rest[:k], cnt)
			rest = rest[k:]
		}
		df.flush(full)
		dc.flush(cnt)
		if full.n != cnt.n || int64(len(full.buf)) != full.n {
			t.Fatalf("input %q: decoding gives %d bytes, counting %d", in, full.n, cnt.n)
		}
	}
}

// BenchmarkB64Size measures the decoded size of 200 KB of base64 the old
// way (decoding every byte, as for text parts) and by counting (attachments).
func BenchmarkB64Size(b *testing.B) {
	raw := make([]byte, 150<<10)
	rand.New(rand.NewSource(1)).Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var lines [][]byte
	for len(enc) > 0 {
		k := min(76, len(enc))
		lines = append(lines, []byte(enc[:k]))
		enc = enc[k:]
	}
	for _, mode := range []string{"decode", "count"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(raw)) * 4 / 3)
			for range b.N {
				s := &sink{collect: mode == "decode", max: 0}
				var d b64Decoder
				for _, l := range lines {
					d.write(l, s)
				}
				d.flush(s)
			}
		})
	}
}
