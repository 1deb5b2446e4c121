package sqlite

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// Synthetic text: a deterministic ~5,000-word vocabulary of pronounceable
// words drawn with a Zipf distribution, like natural language.
var (
	vocabOnce sync.Once
	vocab     []string
)

func vocabulary() []string {
	vocabOnce.Do(func() {
		rnd := rand.New(rand.NewSource(1))
		cons := []string{"b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "st", "tr", "ch", "sh"}
		vows := []string{"a", "e", "i", "o", "u", "ea", "ou", "ai"}
		seen := map[string]bool{}
		for len(vocab) < 5000 {
			var b strings.Builder
			for n := 1 + rnd.Intn(4); n > 0; n-- {
				b.WriteString(cons[rnd.Intn(len(cons))])
				b.WriteString(vows[rnd.Intn(len(vows))])
			}
			if rnd.Intn(3) == 0 {
				b.WriteString(cons[rnd.Intn(len(cons))])
			}
			if w := b.String(); len(w) >= 3 && !seen[w] {
				seen[w] = true
				vocab = append(vocab, w)
			}
		}
	})
	return vocab
}

type textGen struct {
	rnd  *rand.Rand
	zipf *rand.Zipf
	v    []string
}

func newTextGen(seed int64) *textGen {
	rnd := rand.New(rand.NewSource(seed))
	v := vocabulary()
	return &textGen{rnd: rnd, zipf: rand.NewZipf(rnd, 1.1, 2, uint64(len(v)-1)), v: v}
}

// text returns about n bytes of sentences.
func (g *textGen) text(n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	start := true
	for b.Len() < n {
		w := g.v[g.zipf.Uint64()]
		if start {
			w = strings.ToUpper(w[:1]) + w[1:]
			start = false
		}
		b.WriteString(w)
		switch r := g.rnd.Intn(14); {
		case r == 0:
			b.WriteString(".\r\n")
			start = true
		case r == 1:
			b.WriteString(", ")
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// benchMessage builds a message of about size raw bytes, all inline.
func benchMessage(g *textGen, i, size int) *store.NewMessage {
	subj := g.text(40)
	from := fmt.Sprintf("%s <%s@example.com>", g.v[g.rnd.Intn(len(g.v))], g.v[g.rnd.Intn(len(g.v))])
	mid := fmt.Sprintf("%d.%d@bench.example", i, g.rnd.Int63())
	head := fmt.Sprintf("From: %s\r\nTo: user@example.com\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n", from, subj, mid)
	body := g.text(max(size-len(head), 10))
	return &store.NewMessage{
		InternalDate: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
		Size:         int64(len(head) + len(body)),
		Segments:     []blob.Segment{{Inline: []byte(head), Size: int64(len(head))}, {Inline: []byte(body), Size: int64(len(body))}},
		Subject:      subj, From: from, To: "user@example.com", MessageID: mid,
		Date:    time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
		Headers: []store.Header{{Key: "From", Value: from}, {Key: "To", Value: "user@example.com"}, {Key: "Subject", Value: subj}, {Key: "Message-ID", Value: "<" + mid + ">"}},
		Text:    body, Intro: body[:min(len(body), 200)],
	}
}

// appendBulk appends msgs in one write transaction (the fixture's fast
// path; Append itself commits each message).
func (s *Store) appendBulk(ctx context.Context, userID, mailboxID string, msgs []*store.NewMessage) error {
	return s.update(ctx, "append bulk", func(t *wtx) error {
		for _, m := range msgs {
			msg, err := prepareAppend(userID, mailboxID, m)
			if err != nil {
				return err
			}
			if err := appendTx(t, msg, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func dbBytes(path string) int64 {
	var n int64
	for _, suf := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suf); err == nil {
			n += fi.Size()
		}
	}
	return n
}

type fixture struct {
	s      *Store
	path   string
	userID string
	mbID   string
	err    error
}

const (
	fixtureN    = 100_000
	fixtureSize = 4096
)

var (
	fixOnce sync.Once
	fix     fixture
)

// bigMailbox returns a store with one mailbox of 100,000 ~4 KB messages,
// built once and kept in the system temp dir across runs
// (eider-bench-100k-v4; delete it to rebuild).
func bigMailbox(b *testing.B) *fixture {
	fixOnce.Do(func() {
		ctx := context.Background()
		dir := filepath.Join(os.TempDir(), "eider-bench-100k-v4")
		marker := filepath.Join(dir, "complete")
		if _, err := os.Stat(marker); err != nil {
			os.RemoveAll(dir)
		}
		bs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
		if err != nil {
			fix.err = err
			return
		}
		fix.path = filepath.Join(dir, "eider.db")
		s, err := Open(ctx, Config{Path: fix.path}, bs)
		if err != nil {
			fix.err = err
			return
		}
		fix.s = s
		u, err := s.FindUser(ctx, "bench")
		if err != nil {
			start := time.Now()
			if u, err = s.CreateUser(ctx, store.NewUser{Username: "bench"}); err != nil {
				fix.err = err
				return
			}
			mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
			g := newTextGen(42)
			for i := 0; i < fixtureN; i += 2000 {
				batch := make([]*store.NewMessage, 0, 2000)
				for j := i; j < i+2000 && j < fixtureN; j++ {
					batch = append(batch, benchMessage(g, j, fixtureSize))
				}
				if err := s.appendBulk(ctx, u.ID, mb.ID, batch); err != nil {
					fix.err = err
					return
				}
			}
			// Index the whole fixture before measuring anything on it.
			if _, err := s.IndexPending(ctx); err != nil {
				fix.err = err
				return
			}
			os.WriteFile(marker, nil, 0o644)
			fmt.Fprintf(os.Stderr, "built %d-message fixture in %v (%s)\n", fixtureN, time.Since(start).Round(time.Second), dir)
		}
		mb, err := s.FindMailbox(ctx, u.ID, "INBOX")
		if err != nil {
			fix.err = err
			return
		}
		fix.userID, fix.mbID = u.ID, mb.ID
	})
	if fix.err != nil {
		b.Fatal(fix.err)
	}
	return &fix
}

// benchAppend appends b.N messages with the given number of concurrent
// writers (a mail server appends from many deliveries at once; group commit
// shares one transaction among concurrent appends).
func benchAppend(b *testing.B, s *Store, userID, mbID string, size int, withBlob bool, bs blob.Store, writers int) {
	ctx := context.Background()
	g := newTextGen(time.Now().UnixNano())
	textSize, attSize := size, 0
	if withBlob {
		// A 2 KB text part inline, the rest as an attachment blob.
		textSize, attSize = 2048, size-2048
	}
	msgs := make([]*store.NewMessage, b.N)
	for i := range msgs {
		msgs[i] = benchMessage(g, i, textSize)
	}
	var att []byte
	if withBlob {
		att = make([]byte, attSize)
		rand.New(rand.NewSource(1)).Read(att)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			att := append([]byte(nil), att...)
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				if err := appendOne(ctx, s, bs, userID, mbID, msgs[i], i, withBlob, att); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errc)
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	// Full-text indexing runs in the background (indexer.go): appends/s
	// counts acknowledged appends; indexed/s also waits until the indexer
	// has caught up, so deferred work is not left out.
	drain := time.Now()
	if _, err := s.IndexPending(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/(b.Elapsed()+time.Since(drain)).Seconds(), "indexed/s")
}

func appendOne(ctx context.Context, s *Store, bs blob.Store, userID, mbID string, m *store.NewMessage, i int, withBlob bool, att []byte) error {
	{
		if withBlob {
			// The attachment is written to the blob store (unique content
			// per message) inside the timed loop.
			att[0], att[1], att[2], att[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			w, err := bs.Create(ctx)
			if err != nil {
				return err
			}
			w.Write(att)
			h, n, err := w.Commit()
			if err != nil {
				return err
			}
			m.Segments = append(m.Segments[:2:2], blob.Segment{Hash: h, Size: n})
			m.Size = m.Segments[0].Size + m.Segments[1].Size + n
		}
		_, err := s.Append(ctx, userID, mbID, m)
		return err
	}
}

func benchAppendFresh(b *testing.B, size int, withBlob bool) {
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, bs, dir := openTemp(b, "")
			u, _ := s.CreateUser(context.Background(), store.NewUser{Username: "b"})
			mb, _ := s.FindMailbox(context.Background(), u.ID, "INBOX")
			benchAppend(b, s, u.ID, mb.ID, size, withBlob, bs, writers)
			b.ReportMetric(float64(dbBytes(filepath.Join(dir, "eider.db")))/float64(b.N), "dbbytes/msg")
		})
	}
}

func BenchmarkAppend4K(b *testing.B) { benchAppendFresh(b, 4096, false) }

func BenchmarkAppend200K(b *testing.B) { benchAppendFresh(b, 200*1024, true) }

// BenchmarkAppendAt100k compares the append rate into an empty mailbox and
// into the 100k-message one (the appended messages are deleted afterwards).
func BenchmarkAppendAt100k(b *testing.B) {
	b.Run("empty", func(b *testing.B) {
		f := bigMailbox(b)
		ctx := context.Background()
		name := fmt.Sprintf("empty-%d", time.Now().UnixNano())
		mb, err := f.s.CreateMailbox(ctx, f.userID, name, "")
		if err != nil {
			b.Fatal(err)
		}
		defer f.s.DeleteMailbox(ctx, f.userID, mb.ID)
		benchAppend(b, f.s, f.userID, mb.ID, 4096, false, nil, 8)
	})
	b.Run("100k", func(b *testing.B) {
		f := bigMailbox(b)
		ctx := context.Background()
		before, _ := f.s.GetMailbox(ctx, f.userID, f.mbID)
		defer f.s.Delete(ctx, f.userID, f.mbID, store.UIDSet{{Start: before.UIDNext}})
		benchAppend(b, f.s, f.userID, f.mbID, 4096, false, nil, 8)
	})
}

func BenchmarkListRefs100k(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		refs, err := f.s.ListRefs(ctx, f.userID, f.mbID)
		if err != nil {
			b.Fatal(err)
		}
		if len(refs) < fixtureN {
			b.Fatalf("%d refs", len(refs))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(dbBytes(f.path))/fixtureN, "dbbytes/msg")
}

func BenchmarkFetchUIDRange(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	rnd := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := uint32(rnd.Intn(fixtureN-100) + 1)
		ms, err := f.s.Fetch(ctx, f.userID, f.mbID, store.UIDSet{{Start: start, Stop: start + 99}}, true)
		if err != nil {
			b.Fatal(err)
		}
		if len(ms) != 100 {
			b.Fatalf("fetched %d", len(ms))
		}
	}
}

func BenchmarkSearchText100k(b *testing.B) {
	f := bigMailbox(b)
	ctx := context.Background()
	v := vocabulary()
	cases := []struct {
		name string
		c    store.Criteria
	}{
		// Zipf ranks: a mid-frequency word, a rare word, a rare 2-word phrase.
		{"body-word-rank300", store.Criteria{Body: []string{v[300]}}},
		{"text-word-rank3000", store.Criteria{Text: []string{v[3000]}}},
		{"body-phrase", store.Criteria{Body: []string{v[500] + " " + v[40]}}},
		{"body-2char", store.Criteria{Body: []string{"zq"}}},
		// Three letters from inside a common word: expands to every word
		// that contains them.
		{"body-inside-3char", store.Criteria{Body: []string{v[300][1:4]}}},
	}
	run := func(b *testing.B, prefix string) {
		for _, tc := range cases {
			b.Run(prefix+tc.name, func(b *testing.B) {
				var hits int
				for i := 0; i < b.N; i++ {
					uids, err := f.s.Search(ctx, f.userID, f.mbID, &tc.c)
					if err != nil {
						b.Fatal(err)
					}
					hits = len(uids)
				}
				b.ReportMetric(float64(hits), "hits")
			})
		}
	}
	run(b, "")
	// The same with 1,000 just-appended messages still queued for the
	// background indexer (indexer.go), which every search scans.
	before, err := f.s.GetMailbox(ctx, f.userID, f.mbID)
	if err != nil {
		b.Fatal(err)
	}
	f.s.pauseIndexer()
	defer f.s.resumeIndexer()
	defer f.s.Delete(ctx, f.userID, f.mbID, store.UIDSet{{Start: before.UIDNext}})
	g := newTextGen(7)
	for i := range 1000 {
		if _, err := f.s.Append(ctx, f.userID, f.mbID, benchMessage(g, fixtureN+i, fixtureSize)); err != nil {
			b.Fatal(err)
		}
	}
	run(b, "queued1000/")
}

// BenchmarkIndexProse200K measures the background indexer alone: 200
// queued messages of 200 KB of prose (indexed as word sets, fts_bag), then
// one IndexPending, reported as messages and text megabytes per second.
func BenchmarkIndexProse200K(b *testing.B) {
	ctx := context.Background()
	s, _, _ := openTemp(b, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "b"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	g := newTextGen(7)
	s.pauseIndexer()
	const n = 200
	batch := make([]*store.NewMessage, 0, n)
	for j := 0; j < n; j++ {
		batch = append(batch, benchMessage(g, j, 200*1024))
	}
	if err := s.appendBulk(ctx, u.ID, mb.ID, batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	k, err := s.IndexPending(ctx)
	if err != nil || k != n {
		b.Fatal(k, err)
	}
	el := time.Since(start)
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(n*200*1024)/el.Seconds()/1e6, "MB/s")
}
