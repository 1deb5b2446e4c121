package lmtp_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/eidermail/eider/internal/cputime"
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
	benchLMTP(b, 4096, func(i int64) string {
		return fmt.Sprintf("From: a@example.org\r\nTo: bench@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench>\r\n\r\n%s", i, i, body.String())
	})
}

// BenchmarkLMTP200KAttachment is BenchmarkLMTP4K with bench/lmtp's
// "200k-att" message: 2 KB of text and a base64 attachment, different in
// every message (every delivery writes a new blob file).
func BenchmarkLMTP200KAttachment(b *testing.B) {
	var body strings.Builder
	body.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	for body.Len() < 2048 {
		body.WriteString("the quarterly report budget meeting schedule review draft plan\r\n")
	}
	body.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	at := body.Len()
	raw := make([]byte, 150<<10)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\r\n--bench-boundary--\r\n")
	text := body.String()
	benchLMTP(b, int64(len(text)), func(i int64) string {
		// Ten digits are base64 characters too: a different, valid attachment.
		return fmt.Sprintf("From: a@example.org\r\nTo: bench@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"bench-boundary\"\r\n\r\n%s%010d%s", i, i, text[:at], i, text[at+10:])
	})
}

// benchLMTP sends b.N messages msg(i) of about size bytes over 10 LMTP
// connections and reports msgs/s and the process CPU time per message
// (client included).
func benchLMTP(b *testing.B, size int64, msg func(i int64) string) {
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
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 10)
	b.SetBytes(size)
	b.ResetTimer()
	cpu0 := cputime.Process()
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
				if err := c.SendMail("a@example.org", []string{"bench@example.com"}, strings.NewReader(msg(i))); err != nil {
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
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/msg")
}
