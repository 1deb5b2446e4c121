package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

// rawLogin opens a connection, logs in and selects INBOX, for benchmarks.
func rawLogin(b *testing.B, addr string) net.Conn {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(c)
	readUntil := func(prefix string) {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(l, prefix) {
				if !strings.HasPrefix(l, prefix+"OK") && prefix != "* " {
					b.Fatalf("%q", l)
				}
				return
			}
		}
	}
	readUntil("* ")
	fmt.Fprintf(c, "l LOGIN alice %q\r\ns SELECT INBOX\r\n", testPassword)
	readUntil("l ")
	readUntil("s ")
	return c
}

// BenchmarkIdleConnectionMemory reports the memory (heap and goroutine
// stacks) held per logged-in session with INBOX selected: server side plus
// the benchmark's own client socket and reader, which are small. The
// measurement is taken once; the timed loop is empty.
//
// EIDER_BENCH_CONNS sets the number of sessions (default 200).
// Sub-benchmarks: "selected" sessions wait for their next command,
// "IDLE" sessions are in IDLE (RFC 2177), as most mail clients leave them.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	b.Run("selected", func(b *testing.B) { benchIdleMemory(b, false) })
	b.Run("IDLE", func(b *testing.B) { benchIdleMemory(b, true) })
}

func benchIdleMemory(b *testing.B, idle bool) {
	e := newTestEnv(b, func(o *Options) { o.Log = discardLog })
	n := 200
	if v := os.Getenv("EIDER_BENCH_CONNS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("EIDER_BENCH_CONNS=%q: want a positive number", v)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, 0, n)
	for range n {
		c := rawLogin(b, e.addr)
		if idle {
			fmt.Fprintf(c, "i IDLE\r\n")
			l, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || !strings.HasPrefix(l, "+ ") {
				b.Fatalf("IDLE: %q %v", l, err)
			}
		}
		conns = append(conns, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	heap := int64(after.HeapInuse) - int64(before.HeapInuse)
	stack := int64(after.StackInuse) - int64(before.StackInuse)
	for b.Loop() {
	}
	b.ReportMetric(float64(heap+stack)/float64(n), "bytes/conn")
	b.ReportMetric(float64(heap)/float64(n), "heap-bytes/conn")
	b.ReportMetric(float64(stack)/float64(n), "stack-bytes/conn")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/conn")
}

// BenchmarkSelect measures SELECT of a mailbox of 5,000 messages.
func BenchmarkSelect(b *testing.B) {
	e := newTestEnv(b, func(o *Options) { o.Log = discardLog })
	mb := e.mailbox(e.alice, "INBOX")
	msg := testMessage("bench")
	for i := range 5000 {
		if _, err := e.svc.Append(context.Background(), e.alice.ID, mb.ID, strings.NewReader(msg), []string{store.FlagSeen}, time.Time{}); err != nil {
			b.Fatal(i, err)
		}
	}
	c := rawLogin(b, e.addr)
	defer c.Close()
	r := bufio.NewReader(c)
	for b.Loop() {
		fmt.Fprintf(c, "s SELECT INBOX\r\n")
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(l, "s ") {
				break
			}
		}
	}
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))
