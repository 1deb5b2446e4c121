package lmtp_test

import (
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// dialText connects to a listener and reads its greeting.
func dialText(t *testing.T, addr string) (*textproto.Conn, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := textproto.NewConn(nc)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c, nc
}

// reply reads one (possibly multi-line) reply and returns "code text".
func reply(t *testing.T, c *textproto.Conn) string {
	t.Helper()
	code, msg, err := c.ReadResponse(0)
	if err != nil && code == 0 {
		t.Fatalf("reading a reply: %v", err)
	}
	return fmt.Sprintf("%d %s", code, msg)
}

// expectClosed checks that the server closed the connection (after any
// replies still buffered).
func expectClosed(t *testing.T, c *textproto.Conn) {
	t.Helper()
	for range 3 {
		if _, err := c.ReadLine(); err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("waiting for the close: %v", err)
			}
			return
		}
	}
	t.Fatal("connection still open after a line over the limit")
}

// The line limit (MaxLineLength 4096 in start): a longer command line gets
// 500 5.4.0 and the connection is closed; a message line of exactly the
// limit is delivered byte for byte; a longer one, in DATA or in a BDAT
// chunk, fails the transaction, stores nothing, and closes the
// connection. RFC 5321 §4.5.3.1.6, §4.5.3.1.4.
func TestLineLimit(t *testing.T) {
	e := start(t, 1<<20)
	alice := e.user(t, "alice", "alice@example.com", 0)
	const limit = 4096

	for _, proto := range []string{"lmtp", "smtp"} {
		addr, hello := e.lmtp, "LHLO"
		if proto == "smtp" {
			addr, hello = e.smtp, "EHLO"
		}
		t.Run(proto+"/command", func(t *testing.T) {
			c, _ := dialText(t, addr)
			c.PrintfLine("%s %s", hello, strings.Repeat("a", limit+10))
			if got := reply(t, c); !strings.HasPrefix(got, "500 5.4.0") {
				t.Fatalf("over-long command: %q, want 500 5.4.0", got)
			}
			expectClosed(t, c)
		})
	}

	open := func(t *testing.T, chunking bool) *textproto.Conn {
		c, _ := dialText(t, e.lmtp)
		c.PrintfLine("LHLO client.test")
		if got := reply(t, c); !strings.HasPrefix(got, "250") || chunking && !strings.Contains(got, "CHUNKING") {
			t.Fatalf("LHLO: %q", got)
		}
		c.PrintfLine("MAIL FROM:<sender@example.org>")
		c.PrintfLine("RCPT TO:<alice@example.com>")
		for _, what := range []string{"MAIL", "RCPT"} {
			if got := reply(t, c); !strings.HasPrefix(got, "250") {
				t.Fatalf("%s: %q", what, got)
			}
		}
		return c
	}
	msg := func(id string, line int) string {
		return "From: <sender@example.org>\r\nSubject: long line\r\nMessage-ID: <" + id + ">\r\n\r\n" +
			"before\r\n" + strings.Repeat("x", line) + "\r\nafter\r\n"
	}

	// refused checks the reply to a message with a line over the limit:
	// a failure, the connection closed, nothing stored (INBOX keeps only
	// the at-limit message).
	refused := func(t *testing.T, c *textproto.Conn, want string) {
		t.Helper()
		if got := reply(t, c); !strings.HasPrefix(got, want) {
			t.Fatalf("a message line over %d octets: %q, want %s", limit, got, want)
		}
		expectClosed(t, c)
		if n := len(e.mailbox(t, alice, "INBOX")); n != 1 {
			t.Fatalf("INBOX holds %d messages, want only the at-limit one", n)
		}
	}

	t.Run("data-at-limit", func(t *testing.T) {
		c := open(t, false)
		c.PrintfLine("DATA")
		if got := reply(t, c); !strings.HasPrefix(got, "354") {
			t.Fatalf("DATA: %q", got)
		}
		m := msg("at-limit@test", limit)
		c.W.WriteString(m + ".\r\n")
		c.W.Flush()
		if got := reply(t, c); !strings.HasPrefix(got, "250") {
			t.Fatalf("a line of exactly %d octets: %q, want 250", limit, got)
		}
		got := e.mailbox(t, alice, "INBOX")
		if len(got) != 1 || !strings.HasSuffix(got[0], "\r\n\r\n"+m[strings.Index(m, "before"):]) {
			t.Fatalf("INBOX after the at-limit message: %d messages, or the body differs", len(got))
		}
	})

	t.Run("data-over-limit", func(t *testing.T) {
		c := open(t, false)
		c.PrintfLine("DATA")
		if got := reply(t, c); !strings.HasPrefix(got, "354") {
			t.Fatalf("DATA: %q", got)
		}
		c.W.WriteString(msg("over-limit@test", limit+1) + ".\r\n")
		c.W.Flush()
		refused(t, c, "554 5.6.0")
	})

	t.Run("bdat-over-limit", func(t *testing.T) {
		c := open(t, true)
		m := msg("bdat-over@test", limit+100)
		fmt.Fprintf(c.W, "BDAT %d LAST\r\n%s", len(m), m)
		c.W.Flush()
		// go-smtp answers for the chunk itself (its read failed), 554 5.0.0.
		refused(t, c, "554 ")
	})
}
