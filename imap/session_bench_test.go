package imap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
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
func BenchmarkIdleConnectionMemory(b *testing.B) {
	e := newTestEnv(b, func(o *Options) { o.Log = discardLog })
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, 0, n)
	for range n {
		conns = append(conns, rawLogin(b, e.addr))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	used := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
	for b.Loop() {
	}
	b.ReportMetric(float64(used)/n, "bytes/conn")
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
