// Command lmtp measures LMTP delivery throughput: it sends count messages of
// about size bytes to one recipient over concurrency connections (each
// sending one message at a time) and prints messages per second, overall
// and per batch, so a falling rate as the mailbox grows shows up.
//
//	go run ./bench/lmtp -addr 127.0.0.1:2424 -rcpt bench@example.com -n 5000 -c 10 -size 4096 -batch 1000
//
// Every message has a unique Message-ID, so duplicate suppression does not
// skip any, and its own body (a different window of prose, a different
// attachment), so no store can de-duplicate content either. It works against any LMTP server (Eider, Dovecot).
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

// prosePool is text that looks like prose to a full-text indexer: words
// from a 5000-word vocabulary drawn with a Zipf distribution, in lines of
// at most 76 characters. (Random characters would make every token unique,
// which no real mail does.) Each message takes its own window of lines, so
// no two messages carry the same body and no store can de-duplicate them.
type prosePool struct{ lines [][]byte }

func newProsePool(bytesWanted int) *prosePool {
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
	p := &prosePool{}
	var line []byte
	for total := 0; total < bytesWanted; {
		w := vocab[zipf.Uint64()]
		if len(line)+len(w)+1 > 76 {
			p.lines = append(p.lines, append(line, '\r', '\n'))
			total += len(line) + 2
			line = nil
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, w...)
	}
	return p
}

// text appends about size bytes of prose for message i: consecutive lines
// from a start that differs per message.
func (p *prosePool) text(b *bytes.Buffer, i int64, size int) {
	n := int64(len(p.lines))
	for k := (i * 7919) % n; size > 0; k = (k + 1) % n {
		b.Write(p.lines[k])
		size -= len(p.lines[k])
	}
}

// attachmentPool holds base64 lines of pseudo-random bytes; each message
// takes its own window of them (as prosePool), so every attachment is
// different without the client spending its CPU, which it shares with the
// server measured, on generating and encoding one per message.
type attachmentPool struct{ lines [][]byte }

func newAttachmentPool(bytesWanted int) *attachmentPool {
	r := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 57) // 57 bytes: one 76-character base64 line
	p := &attachmentPool{}
	for total := 0; total < bytesWanted; total += 78 {
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		line := make([]byte, 0, 78)
		line = base64.StdEncoding.AppendEncode(line, raw)
		p.lines = append(p.lines, append(line, '\r', '\n'))
	}
	return p
}

// attachment appends about size bytes of base64 lines for message i.
func (p *attachmentPool) attachment(b *bytes.Buffer, i int64, size int) {
	n := int64(len(p.lines))
	for k := (i * 7919) % n; size > 0; k = (k + 1) % n {
		b.Write(p.lines[k])
		size -= len(p.lines[k])
	}
}

// message returns the body of message i: all prose, or (attach) 2 KB of
// prose and a base64 attachment filling the size (the usual shape of a
// large message).
func message(p *prosePool, a *attachmentPool, i int64, size int, attach bool) []byte {
	var b bytes.Buffer
	b.Grow(size + 1024)
	if !attach {
		p.text(&b, i, max(size-300, 0))
		return b.Bytes()
	}
	b.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	p.text(&b, i, 2048)
	b.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	a.attachment(&b, i, size-b.Len()-200)
	b.WriteString("--bench-boundary--\r\n")
	return b.Bytes()
}

func run(addr, rcpt string, n, conc, size, batch int, label string, attach bool) error {
	ctype := "text/plain; charset=us-ascii"
	if attach {
		ctype = "multipart/mixed; boundary=\"bench-boundary\""
	}
	pool, att := newProsePool(4<<20), newAttachmentPool(8<<20)
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
				text := message(pool, att, i, size, attach)
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
