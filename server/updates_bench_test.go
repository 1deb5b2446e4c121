package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/server"
	"github.com/gorilla/websocket"
)

// BenchmarkUpdatesFanout: 1,000 WebSocket subscribers of one user; each
// iteration appends one message through the core and waits until every
// subscriber has its event. Reports the append-to-event latency per
// subscriber (p50, p99) and the heap and goroutine stacks per idle connection, measured in this
// process, so client and server ends together (an upper bound for the
// server's share). Run: go test -run '^$' -bench UpdatesFanout -benchtime 20x ./server/
func BenchmarkUpdatesFanout(b *testing.B) {
	const subs = 1000
	svc := mailtest.NewService(b, "", "", mimetree.DefaultLimits())
	h, err := server.New(svc, server.Options{AdminToken: adminToken, DataDir: b.TempDir(), Updates: server.UpdatesOptions{MaxPerUser: subs}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, "bench", "secret-pass-1", "", 0)
	if err != nil {
		b.Fatal(err)
	}
	uid := u.ID
	mbs, err := svc.Store.ListMailboxes(ctx, uid)
	if err != nil {
		b.Fatal(err)
	}
	inbox := ""
	for _, m := range mbs {
		if m.Name == "INBOX" {
			inbox = m.ID
		}
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/users/" + uid + "/updates"
	hdr := http.Header{"Authorization": {"Bearer " + adminToken}}

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]*websocket.Conn, subs)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, hdr)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns[i] = c
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	runtime.GC()
	runtime.ReadMemStats(&after)
	perConn := float64(int64(after.HeapInuse+after.StackInuse)-int64(before.HeapInuse+before.StackInuse)) / subs / 1024

	// One reader per subscriber reports when it sees each event.
	got := make(chan time.Time, subs)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				// Counter and quota events follow each append: time the
				// message.created one.
				if bytes.Contains(msg, []byte(`"type":"message.created"`)) {
					got <- time.Now()
				}
			}
		}()
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := svc.Append(ctx, uid, inbox, strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i)), nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
		for range subs {
			select {
			case at := <-got:
				lat = append(lat, at.Sub(start))
			case <-time.After(30 * time.Second):
				b.Fatal("an event did not arrive within 30s")
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(perConn, "KiB-heap+stack/idle-conn-both-ends")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}
