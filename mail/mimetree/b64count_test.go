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

// TestB64CountAnyBytes: the count-only path agrees with a plain reference
// on arbitrary bytes (all 256 values, "=" included), short lengths and any
// carried-over quantum state.
func TestB64CountAnyBytes(t *testing.T) {
	rnd := rand.New(rand.NewSource(5))
	ref := func(p []byte, n int) (int64, int) {
		var total int64
		for _, c := range p {
			switch {
			case c == '=':
				total += int64(n/4)*3 + int64(partialBytes[n%4])
				n = 0
			case b64val[c] != 0xff:
				n++
			}
		}
		return total + int64(n/4)*3, n % 4
	}
	for i := 0; i < 20000; i++ {
		p := make([]byte, rnd.Intn(40))
		for j := range p {
			if rnd.Intn(3) == 0 {
				p[j] = byte(rnd.Intn(256))
			} else {
				p[j] = "ABCXYZabcxyz0189+/="[rnd.Intn(19)]
			}
		}
		n0 := rnd.Intn(4)
		d := b64Decoder{n: n0}
		s := &sink{}
		d.count(p, s)
		want, wantN := ref(p, n0)
		if s.n != want || d.n != wantN {
			t.Fatalf("count(%q) from %d: %d bytes, %d left; want %d, %d", p, n0, s.n, d.n, want, wantN)
		}
	}
}
