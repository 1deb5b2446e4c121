// Command lmtp measures LMTP delivery throughput: it sends count messages of
// about size bytes to one recipient over concurrency connections (each
// sending one message at a time) and prints messages per second, overall
// and per batch, so a falling rate as the mailbox grows shows up.
//
//	go run ./bench/lmtp -addr 127.0.0.1:2424 -rcpt bench@example.com -n 5000 -c 10 -size 4096 -batch 1000
//
// Every message has a unique Message-ID, so duplicate suppression does not
// skip any, and its own body (a different window of prose, a different
// attachment), so no store can de-duplicate content either. It works
// against any LMTP server (Eider, Dovecot).
//
// Two clients. -client raw (the default) speaks LMTP the way Postfix's lmtp
// client does: MAIL, RCPT and DATA sent in one write (PIPELINING, RFC 2920,
// which every LMTP server supports, RFC 2033 §4.1), and the body
// dot-stuffed a block at a time. -client gosmtp uses go-smtp's client: one
// round trip per command, and a body stuffed one byte at a time, which
// costs the client about 3 ms of CPU per 200 KB message; on a two-CPU
// machine that CPU is taken from the servers being measured.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
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
	client := flag.String("client", "raw", "raw: pipelined DATA, block-wise dot-stuffing (like Postfix); bdat: pipelined BDAT LAST (CHUNKING, like Exim); gosmtp: go-smtp's client")
	flag.Parse()
	if err := run(*addr, *client, *rcpt, *n, *conc, *size, *batch, *label, *attach); err != nil {
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

// message appends the header and body of message i to b: all prose, or
// (attach) 2 KB of prose and a base64 attachment filling the size (the
// usual shape of a large message).
func message(b *bytes.Buffer, p *prosePool, a *attachmentPool, rcpt string, stamp, i int64, size int, attach bool) {
	ctype := "text/plain; charset=us-ascii"
	if attach {
		ctype = "multipart/mixed; boundary=\"bench-boundary\""
	}
	fmt.Fprintf(b, "From: Bench <bench@sender.example>\r\nTo: <%s>\r\nSubject: benchmark message %d\r\nMessage-ID: <%d.%d@bench.local>\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n",
		rcpt, i, stamp, i, time.Now().Format(time.RFC1123Z), ctype)
	if !attach {
		p.text(b, i, max(size-300, 0))
		return
	}
	start := b.Len()
	b.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	p.text(b, i, 2048)
	b.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	a.attachment(b, i, size-(b.Len()-start)-200)
	b.WriteString("--bench-boundary--\r\n")
}

// sender delivers messages to one recipient over one connection, one at a
// time.
type sender interface {
	send(from, rcpt string, msg []byte) error
	quit()
}

func dial(addr, client string) (sender, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	switch client {
	case "gosmtp":
		c := smtp.NewClientLMTP(conn)
		if err := c.Hello("bench.local"); err != nil {
			c.Close()
			return nil, err
		}
		return gosmtpSender{c}, nil
	case "raw", "bdat":
		s := &rawSender{conn: conn, r: bufio.NewReader(conn), bdat: client == "bdat"}
		if err := s.expect(220); err != nil {
			conn.Close()
			return nil, fmt.Errorf("greeting: %w", err)
		}
		if _, err := conn.Write([]byte("LHLO bench.local\r\n")); err != nil {
			conn.Close()
			return nil, err
		}
		if err := s.expect(250); err != nil {
			conn.Close()
			return nil, fmt.Errorf("LHLO: %w", err)
		}
		return s, nil
	}
	conn.Close()
	return nil, fmt.Errorf("unknown client %q (raw, bdat, gosmtp)", client)
}

type gosmtpSender struct{ c *smtp.Client }

func (g gosmtpSender) send(from, rcpt string, msg []byte) error {
	if err := g.c.Mail(from, nil); err != nil {
		return fmt.Errorf("MAIL: %w", err)
	}
	if err := g.c.Rcpt(rcpt, nil); err != nil {
		return fmt.Errorf("RCPT: %w", err)
	}
	wc, err := g.c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := wc.Write(msg); err != nil {
		return err
	}
	return wc.Close()
}

func (g gosmtpSender) quit() { g.c.Quit(); g.c.Close() }

// rawSender is a pipelining LMTP client (see the package comment).
type rawSender struct {
	conn net.Conn
	r    *bufio.Reader
	out  []byte // reused: the envelope commands, then the stuffed body
	// bdat sends the body as one BDAT ... LAST chunk (CHUNKING, RFC 3030)
	// in the same write as MAIL and RCPT, unstuffed, instead of DATA.
	bdat bool
}

// expect reads one reply (all its lines, RFC 5321 §4.2.1) and fails unless
// its code is want.
func (s *rawSender) expect(want int) error {
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 {
			return fmt.Errorf("short reply %q", line)
		}
		if line[3] == '-' {
			continue
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return fmt.Errorf("bad reply %q", line)
		}
		if code != want {
			return fmt.Errorf("reply %q, want %d", strings.TrimSpace(line), want)
		}
		return nil
	}
}

func (s *rawSender) send(from, rcpt string, msg []byte) error {
	if s.bdat {
		// RFC 3030 §4.2: BDAT needs no 354; the chunk follows its command.
		s.out = fmt.Appendf(s.out[:0], "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %d LAST\r\n", from, rcpt, len(msg))
		s.out = append(s.out, msg...)
		if _, err := s.conn.Write(s.out); err != nil {
			return err
		}
		for range 3 { // MAIL, RCPT, then one reply per recipient for the message
			if err := s.expect(250); err != nil {
				return err
			}
		}
		return nil
	}
	s.out = fmt.Appendf(s.out[:0], "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, rcpt)
	if _, err := s.conn.Write(s.out); err != nil {
		return err
	}
	// RFC 2920 §3.1: the body goes only after DATA's 354.
	for _, c := range [...]int{250, 250, 354} {
		if err := s.expect(c); err != nil {
			return err
		}
	}
	s.out = stuff(s.out[:0], msg)
	if _, err := s.conn.Write(s.out); err != nil {
		return err
	}
	return s.expect(250) // one reply per recipient (RFC 2033 §4.2)
}

func (s *rawSender) quit() {
	s.conn.Write([]byte("QUIT\r\n"))
	s.expect(221)
	s.conn.Close()
}

// stuff appends msg dot-stuffed (RFC 5321 §4.5.2: a line that starts with
// "." gets another one) and ended with CRLF "." CRLF.
func stuff(out, msg []byte) []byte {
	if len(msg) > 0 && msg[0] == '.' {
		out = append(out, '.')
	}
	for {
		i := bytes.Index(msg, []byte("\n."))
		if i < 0 {
			break
		}
		out = append(out, msg[:i+1]...)
		out = append(out, '.')
		msg = msg[i+1:]
	}
	last := len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n"))
	out = append(out, msg...)
	if last { // the message data ends with CRLF before the final "."
		out = append(out, '\r', '\n')
	}
	return append(out, ".\r\n"...)
}

func run(addr, client, rcpt string, n, conc, size, batch int, label string, attach bool) error {
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
			c, err := dial(addr, client)
			if err != nil {
				errc <- err
				return
			}
			var b bytes.Buffer
			b.Grow(size + 1024)
			for {
				i := next.Add(1)
				if i > int64(n) {
					c.quit()
					return
				}
				b.Reset()
				message(&b, pool, att, rcpt, stamp, i, size, attach)
				if err := c.send("bench@sender.example", rcpt, b.Bytes()); err != nil {
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
