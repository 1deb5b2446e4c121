package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mimetree"
)

// BenchmarkDeliver4K measures the delivery path without the network: 10
// concurrent deliveries of 4 KB messages with unique Message-IDs into one
// INBOX, on the default durable store (synchronous=FULL), duplicate check on.
func BenchmarkDeliver4K(b *testing.B) {
	ctx := context.Background()
	svc := mailtest.NewService(b, "", "full", mimetree.DefaultLimits())
	u, err := svc.CreateUser(ctx, "bench", "pw", "bench@example.com", 0)
	if err != nil {
		b.Fatal(err)
	}
	d := delivery.New(svc, delivery.Options{SpamHeader: "X-Spam-Flag", SpamValue: "YES", DuplicateWindow: 24 * time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	var n atomic.Int64
	b.SetBytes(4096)
	b.SetParallelism(5) // 10 goroutines on 2 CPUs, like 10 LMTP senders
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			msg := fmt.Sprintf("From: a@example.org\r\nTo: bench@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench>\r\n\r\n%s", i, i, body.String())
			res := d.Deliver(ctx, &delivery.Envelope{From: "a@example.org", Recipients: []delivery.Recipient{{Address: "bench@example.com", User: u}}}, bytes.NewReader([]byte(msg)))
			if res[0].Err != nil {
				b.Error(res[0].Err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
