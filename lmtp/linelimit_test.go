package lmtp

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestLineLimitScan: fed in pieces of any size, lineLimit refuses exactly
// the streams with a complete line (CR LF not counted) longer than its max,
// or an unfinished one longer than max+1 (its CR may come next).
func TestLineLimitScan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const limit = 20
	refused := 0
	for range 5000 {
		var in []byte
		longest := 0
		for range r.IntN(6) + 1 {
			n := r.IntN(limit + 4)
			longest = max(longest, n)
			in = append(in, bytes.Repeat([]byte{'x'}, n)...)
			in = append(in, '\r', '\n')
		}
		tail := r.IntN(limit + 4) // the last line, its CRLF not sent yet
		in = append(in, bytes.Repeat([]byte{'y'}, tail)...)

		l := lineLimit{max: limit}
		ok := true
		for b := in; len(b) > 0 && ok; {
			k := min(len(b), r.IntN(7)+1)
			n := l.scan(b[:k])
			if ok = !l.over; ok != (n == k) {
				t.Fatalf("%q: scan of %q took %d octets with over=%v", in, b[:k], n, l.over)
			}
			b = b[k:]
		}
		want := longest <= limit && tail <= limit+1
		if ok != want {
			t.Fatalf("%q: scan ok=%v over=%v, want ok=%v", in, ok, l.over, want)
		}
		if !ok {
			refused++
		}
	}
	if refused == 0 || refused == 5000 {
		t.Fatalf("%d of 5000 streams refused: the cases do not cover both outcomes", refused)
	}
}
