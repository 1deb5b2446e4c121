package lmtp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
)

// BenchmarkLMTP4K is BenchmarkDeliver4K (mail/delivery) through the LMTP
// listener: 10 go-smtp client connections on loopback, one 4 KB message at
// a time each, on the durable store. The gap between the two is what the
// LMTP session costs (client included: it runs on the same CPUs, as in
// bench/lmtp.sh).
func BenchmarkLMTP4K(b *testing.B) {
	ctx := context.Background()
	svc := mailtest.NewService(b, "", "full", mimetree.DefaultLimits())
	if _, err := svc.CreateUser(ctx, "bench", "pw", "bench@example.com", 0); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := delivery.New(svc, delivery.Options{SpamHeader: "X-Spam-Flag", SpamValue: "YES", DuplicateWindow: 24 * time.Hour, Log: log})
	srv := lmtp.NewLMTP(lmtp.Options{Deliverer: d, Hostname: "mx.bench", Log: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	words := strings.Fields("the quarterly report budget meeting schedule review draft plan team project update notes")
	var body strings.Builder
	for i := 0; body.Len() < 3800; i++ {
		body.WriteString(words[(i*7)%len(words)])
		if i%12 == 11 {
			body.WriteString("\r\n")
		} else {
			body.WriteByte(' ')
		}
	}
	body.WriteString("\r\n")
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 10)
	b.SetBytes(4096)
	b.ResetTimer()
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				errc <- err
				return
			}
			c := smtp.NewClientLMTP(conn)
			defer c.Close()
			if err := c.Hello("bench.local"); err != nil {
				errc <- err
				return
			}
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					c.Quit()
					return
				}
				msg := fmt.Sprintf("From: a@example.org\r\nTo: bench@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench>\r\n\r\n%s", i, i, body.String())
				if err := c.SendMail("a@example.org", []string{"bench@example.com"}, strings.NewReader(msg)); err != nil {
					errc <- fmt.Errorf("message %d: %w", i, err)
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
