// Command lmtp measures LMTP delivery throughput: it sends count messages of
// about size bytes to one recipient over concurrency connections (each
// sending one message at a time) and prints messages per second, overall
// and per batch, so a falling rate as the mailbox grows shows up.
//
//	go run ./bench/lmtp -addr 127.0.0.1:2424 -rcpt bench@example.com -n 5000 -c 10 -size 4096 -batch 1000
//
// Every message has a unique Message-ID, so duplicate suppression does not
// skip any. It works against any LMTP server (Eider, Dovecot).
package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2424", "LMTP server address")
	rcpt := flag.String("rcpt", "bench@example.com", "recipient")
	n := flag.Int("n", 2000, "messages to send")
	conc := flag.Int("c", 10, "concurrent connections")
	size := flag.Int("size", 4096, "message size in bytes (approximate, at least the header)")
	batch := flag.Int("batch", 0, "print the rate of every batch of this many messages (0: only the total)")
	label := flag.String("label", "", "prefix of the output lines")
	attach := flag.Bool("attach", false, "send a 2 KB text part plus a base64 attachment filling the size (the usual shape of a large message) instead of all text")
	flag.Parse()
	if err := run(*addr, *rcpt, *n, *conc, *size, *batch, *label, *attach); err != nil {
		fmt.Fprintln(os.Stderr, "lmtp bench:", err)
		os.Exit(1)
	}
}

// body returns size bytes of text that looks like prose to a full-text
// indexer: words from a 5000-word vocabulary drawn with a Zipf
// distribution, in lines of at most 76 characters. (Random characters
// would make every token unique, which no real mail does.)
func body(size int) []byte {
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
	var b bytes.Buffer
	line := 0
	for b.Len() < size {
		w := vocab[zipf.Uint64()]
		if line+len(w)+1 > 76 {
			b.WriteString("\r\n")
			line = 0
		}
		if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// attachmentBody returns a multipart body of about size bytes: 2 KB of
// prose and a base64 attachment of pseudo-random bytes.
func attachmentBody(size int) []byte {
	var b bytes.Buffer
	b.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	b.Write(body(2048))
	b.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	r := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, max(size-b.Len()-200, 0)*3/4)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n--bench-boundary--\r\n")
	return b.Bytes()
}

func run(addr, rcpt string, n, conc, size, batch int, label string, attach bool) error {
	ctype, text := "text/plain; charset=us-ascii", body(max(size-300, 0))
	if attach {
		ctype, text = "multipart/mixed; boundary=\"bench-boundary\"", attachmentBody(size)
	}
	var next atomic.Int64
	var sent atomic.Int64
	start := time.Now()
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	batchDone := make(chan int64, n)
	stamp := time.Now().UnixNano()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
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
				if i > int64(n) {
					c.Quit()
					return
				}
				if err := c.Mail("bench@sender.example", nil); err != nil {
					errc <- fmt.Errorf("MAIL: %w", err)
					return
				}
				if err := c.Rcpt(rcpt, nil); err != nil {
					errc <- fmt.Errorf("RCPT: %w", err)
					return
				}
				wc, err := c.Data()
				if err != nil {
					errc <- fmt.Errorf("DATA: %w", err)
					return
				}
				fmt.Fprintf(wc, "From: Bench <bench@sender.example>\r\nTo: <%s>\r\nSubject: benchmark message %d\r\nMessage-ID: <%d.%d@bench.local>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n",
					rcpt, i, stamp, i, time.Now().Format(time.RFC1123Z), ctype)
				wc.Write(text)
				if err := wc.Close(); err != nil {
					errc <- fmt.Errorf("message %d: %w", i, err)
					return
				}
				sent.Add(1)
				batchDone <- i
			}
		}()
	}
	go func() { wg.Wait(); close(batchDone) }()
	bstart, bcount, bno := time.Now(), 0, 0
	for range batchDone {
		bcount++
		if batch > 0 && bcount == batch {
			bno++
			el := time.Since(bstart)
			fmt.Printf("%sbatch %d: messages %d-%d: %.0f msg/s\n", label, bno, (bno-1)*batch+1, bno*batch, float64(batch)/el.Seconds())
			bstart, bcount = time.Now(), 0
		}
	}
	el := time.Since(start)
	select {
	case err := <-errc:
		return fmt.Errorf("after %d messages: %w", sent.Load(), err)
	default:
	}
	fmt.Printf("%stotal: %d messages of %d bytes, %d connections: %.1fs, %.0f msg/s\n", label, sent.Load(), size, conc, el.Seconds(), float64(sent.Load())/el.Seconds())
	return nil
}
