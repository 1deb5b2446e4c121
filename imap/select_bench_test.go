package imap

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkLargeMailboxOpen measures what a client does on opening a
// mailbox of benchMessages messages (EIDER_BENCH_MESSAGES=100000 for the
// issue's figures): SELECT (goal < 50 ms) and UID FETCH 1:* (FLAGS)
// (goal ≤ 100 ms), each answered in full before the next. FirstSelect
// reports the set-up SELECT, the first listing since the store opened
// (one sample per run: nothing cached).
func BenchmarkLargeMailboxOpen(b *testing.B) {
	e := newBenchEnv(b, benchMessages(b))
	b.Run("FirstSelect", func(b *testing.B) {
		for b.Loop() {
		}
		b.ReportMetric(float64(e.firstSelect)/float64(time.Millisecond), "ms")
	})
	b.Run("Select", func(b *testing.B) {
		for b.Loop() {
			exists := ""
			tag := "s SELECT INBOX"
			if _, err := e.conn.Write([]byte(tag + "\r\n")); err != nil {
				b.Fatal(err)
			}
			for {
				l := e.line(b)
				if strings.HasSuffix(l, " EXISTS\r\n") {
					exists = strings.TrimSuffix(strings.TrimPrefix(l, "* "), " EXISTS\r\n")
				}
				if strings.HasPrefix(l, "s ") {
					if !strings.HasPrefix(l, "s OK [READ-WRITE]") {
						b.Fatalf("SELECT: %s", l)
					}
					break
				}
			}
			if exists != itoa(int64(e.n)) {
				b.Fatalf("SELECT: EXISTS %q, want %d", exists, e.n)
			}
		}
	})
	b.Run("UIDFetchFlags", func(b *testing.B) {
		for b.Loop() {
			if got := e.cmd(b, "f UID FETCH 1:* (FLAGS)"); got != e.n {
				b.Fatalf("%d responses, want %d", got, e.n)
			}
		}
	})
}
