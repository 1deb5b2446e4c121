package blob

import (
	"context"
	"encoding/binary"
	"math/rand"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/eidermail/eider/internal/cputime"
)

// BenchmarkFileStoreCommit200K writes distinct 200 KB blobs from 10
// concurrent writers (the LMTP benchmark's 10 senders) into a fresh store:
// create, write in 32 KB pieces (as the parser's buffered writer does),
// commit, release. ns/op is wall time per blob with the writers overlapping.
func BenchmarkFileStoreCommit200K(b *testing.B) {
	s, err := NewFileStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	base := make([]byte, 200<<10)
	rand.New(rand.NewSource(1)).Read(base)
	var seq atomic.Uint64
	b.SetBytes(int64(len(base)))
	b.ReportAllocs()
	b.SetParallelism(max(1, 10/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		data := append([]byte(nil), base...)
		for pb.Next() {
			// Distinct content per blob, as every benchmark message has.
			binary.LittleEndian.PutUint64(data, seq.Add(1))
			w, err := s.Create(context.Background())
			if err != nil {
				b.Error(err)
				return
			}
			for p := data; len(p) > 0; {
				k := min(len(p), 32<<10)
				if _, err := w.Write(p[:k]); err != nil {
					b.Error(err)
					return
				}
				p = p[k:]
			}
			h, n, err := w.Commit()
			if err != nil || n != int64(len(data)) {
				b.Errorf("commit: %v (size %d)", err, n)
				return
			}
			s.Release(h)
		}
	})
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
}
