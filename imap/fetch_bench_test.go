package imap

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// benchMessages is the mailbox size of the benchmarks: 10,000 by default,
// EIDER_BENCH_MESSAGES to change it (the figure is 100,000).
func benchMessages(b *testing.B) int {
	if s := os.Getenv("EIDER_BENCH_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 10000
}

// benchEnv is a server over a mailbox of n messages and one logged-in,
// selected raw connection.
type benchEnv struct {
	svc  *mail.Service
	conn net.Conn
	r    *bufio.Reader
	n    int
	// firstSelect is the set-up SELECT: the first listing of the mailbox
	// since the store opened (no cached listing).
	firstSelect time.Duration
}

func newBenchEnv(b *testing.B, n int) *benchEnv {
	b.Helper()
	ctx := context.Background()
	svc := mailtest.NewService(b, "", "", mimetree.DefaultLimits())
	u, err := svc.CreateUser(ctx, "alice", testPassword, "alice@example.com", 0)
	if err != nil {
		b.Fatal(err)
	}
	mb, err := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	words := []string{"apple", "banana", "cherry", "durian", "elderberry", "fig", "grape"}
	for i := 0; i < n; i++ {
		raw := testMessage(fmt.Sprintf("bench %d %s", i, words[i%len(words)]))
		nm, release, err := svc.Parse(ctx, strings.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if i%3 == 0 {
			nm.Flags = []string{store.FlagSeen}
		}
		if i == n/2 {
			nm.Text += " needleword"
		}
		if _, err := svc.Store.Append(ctx, u.ID, mb.ID, nm); err != nil {
			b.Fatal(err)
		}
		release()
	}
	srv := NewServer(Options{Service: svc, AllowPlaintextLoopback: true, Log: mailtest.LogTap(make(chan string, 1))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	e := &benchEnv{svc: svc, conn: conn, r: bufio.NewReaderSize(conn, 64<<10), n: n}
	e.line(b)
	e.cmd(b, fmt.Sprintf("l LOGIN alice %q", testPassword))
	start := time.Now()
	e.cmd(b, "s SELECT INBOX")
	e.firstSelect = time.Since(start)
	return e
}

func (e *benchEnv) line(b *testing.B) string {
	e.conn.SetReadDeadline(time.Now().Add(time.Minute))
	s, err := e.r.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// cmd sends a command and reads to its tagged answer, returning the
// number of untagged lines; it fails unless the answer is OK.
func (e *benchEnv) cmd(b *testing.B, line string) int {
	tag, _, _ := strings.Cut(line, " ")
	if _, err := e.conn.Write([]byte(line + "\r\n")); err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		l := e.line(b)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				b.Fatalf("%s: %s", line, l)
			}
			return n
		}
		if n, ok := literalSize(strings.TrimRight(l, "\r\n")); ok {
			if _, err := e.r.Discard(n); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
}

// BenchmarkLargeMailbox runs, over one mailbox of benchMessages
// messages: UID FETCH 1:* (FLAGS) (goal for 100,000 messages: ≤ 100 ms)
// and SEARCH TEXT for a word found in one message (goal: < 30 ms).
func BenchmarkLargeMailbox(b *testing.B) {
	e := newBenchEnv(b, benchMessages(b))
	b.Run("UIDFetchFlags", func(b *testing.B) {
		for b.Loop() {
			if got := e.cmd(b, "f UID FETCH 1:* (FLAGS)"); got != e.n {
				b.Fatalf("%d responses, want %d", got, e.n)
			}
		}
	})
	b.Run("SearchText", func(b *testing.B) {
		for b.Loop() {
			if got := e.cmd(b, "q SEARCH TEXT needleword"); got != 1 {
				b.Fatalf("%d untagged responses", got)
			}
		}
	})
}

// BenchmarkFetchBody: FETCH of one message's ENVELOPE and BODY.PEEK[] in
// a mailbox of 1,000.
func BenchmarkFetchBody(b *testing.B) {
	e := newBenchEnv(b, 1000)
	i := 0
	for b.Loop() {
		i = i%e.n + 1
		e.cmd(b, fmt.Sprintf("f UID FETCH %d (ENVELOPE BODY.PEEK[])", i))
	}
}
