package delivery_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eidermail/eider/internal/cputime"
	"github.com/eidermail/eider/mail/mailtest"

	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/mimetree"
)

// BenchmarkDeliver4K measures the delivery path without the network: 10
// concurrent deliveries of 4 KB messages with unique Message-IDs into one
// INBOX, on the default durable store (synchronous=FULL), duplicate check on.
func BenchmarkDeliver4K(b *testing.B) {
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
	benchDeliver(b, body.String())
}

// BenchmarkDeliver200KProse is BenchmarkDeliver4K with 200 KB of prose
// (Zipf-distributed words of a 5,000-word vocabulary, as bench/lmtp
// sends): every byte goes to the full-text index.
func BenchmarkDeliver200KProse(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 5000)
	for i := range vocab {
		w := make([]byte, 2+r.IntN(9))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		vocab[i] = string(w)
	}
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(vocab)-1))
	var body strings.Builder
	line := 0
	for body.Len() < 200*1024 {
		w := vocab[zipf.Uint64()]
		if line+len(w)+1 > 76 {
			body.WriteString("\r\n")
			line = 0
		}
		if line > 0 {
			body.WriteByte(' ')
			line++
		}
		body.WriteString(w)
		line += len(w)
	}
	benchDeliver(b, body.String())
}

// BenchmarkDeliver200KAttachment: 2 KB of text and a 198 KB base64
// attachment (bench/lmtp -attach), the usual shape of a large message. The
// attachment is the same in every message, so all but the first find their
// blob stored already.
func BenchmarkDeliver200KAttachment(b *testing.B) {
	body, _ := attachmentBody()
	benchDeliverType(b, "multipart/mixed; boundary=\"bench-boundary\"", body)
}

// BenchmarkDeliver200KAttachmentUnique is BenchmarkDeliver200KAttachment
// with a different attachment in every message, as bench/lmtp sends: every
// message writes, fsyncs and renames a new blob file.
func BenchmarkDeliver200KAttachmentUnique(b *testing.B) {
	body, at := attachmentBody()
	benchDeliverFunc(b, "multipart/mixed; boundary=\"bench-boundary\"", int64(len(body)), func(i int64) string {
		// Ten digits are base64 characters too: the message stays valid.
		return body[:at] + fmt.Sprintf("%010d", i) + body[at+10:]
	})
}

// attachmentBody returns the body of the attachment benchmarks and the
// offset of the attachment's first base64 character.
func attachmentBody() (string, int) {
	var body strings.Builder
	body.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	for body.Len() < 2048 {
		body.WriteString("the quarterly report budget meeting schedule review draft plan\r\n")
	}
	body.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	at := body.Len()
	r := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, (200*1024-body.Len()-200)*3/4)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		body.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	body.WriteString(enc + "\r\n--bench-boundary--\r\n")
	return body.String(), at
}

func benchDeliver(b *testing.B, body string) { benchDeliverType(b, "text/plain", body) }

func benchDeliverType(b *testing.B, ctype, body string) {
	benchDeliverFunc(b, ctype, int64(len(body)), func(int64) string { return body })
}

// benchDeliverFunc delivers body(i) as message i, reporting msgs/s and the
// process CPU time per message (kernel time included: file creation and
// fsync are a large part of it).
func benchDeliverFunc(b *testing.B, ctype string, size int64, body func(i int64) string) {
	ctx := context.Background()
	svc := mailtest.NewService(b, "", benchSync, mimetree.DefaultLimits())
	u, err := svc.CreateUser(ctx, "bench", "pw", "bench@example.com", 0)
	if err != nil {
		b.Fatal(err)
	}
	d := delivery.New(svc, delivery.Options{SpamHeader: "X-Spam-Flag", SpamValue: "YES", DuplicateWindow: 24 * time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var n atomic.Int64
	b.SetBytes(size)
	b.SetParallelism(5) // 10 goroutines on 2 CPUs, like 10 LMTP senders
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			msg := fmt.Sprintf("From: a@example.org\r\nTo: bench@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench>\r\n"+
				"MIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n%s", i, i, ctype, body(i))
			res := d.Deliver(ctx, &delivery.Envelope{From: "a@example.org", Recipients: []delivery.Recipient{{Address: "bench@example.com", User: u}}}, bytes.NewReader([]byte(msg)))
			if res[0].Err != nil {
				b.Error(res[0].Err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/msg")
}

// benchSync is the store's sync mode in the delivery benchmarks.
var benchSync = "full"
