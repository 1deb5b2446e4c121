package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/eidermail/eider/config"
)

// pushSender is the reverse-path of pushed messages.
const pushSender = "push@localhost"

// pushCmd implements `eider push RCPT [FILE]`: it sends one message (FILE,
// or stdin) through the running server's SMTP maildrop (smtp.listen), the
// way an MTA would, so a newcomer can watch mail arrive.
func pushCmd(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) < 1 || len(args) > 2 {
		return usageError("push RCPT [FILE]")
	}
	rcpt := args[0]
	if cfg.SMTP.Listen == "" {
		return errors.New("push: the SMTP maildrop is disabled (smtp.listen is empty)")
	}
	in := stdin
	if len(args) == 2 {
		f, err := os.Open(args[1])
		if err != nil {
			return fmt.Errorf("push: %w", err)
		}
		defer f.Close()
		in = f
	}
	addr := cfg.SMTP.Listen
	if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("push: is `eider serve` running? %w", err)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	// RFC 6531: a non-ASCII address needs SMTPUTF8.
	opts := &smtp.MailOptions{UTF8: !isASCII(rcpt)}
	if err := c.Mail(pushSender, opts); err != nil {
		return fmt.Errorf("push: MAIL: %w", replyError{err})
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return fmt.Errorf("push: RCPT %s: %w", rcpt, replyError{err})
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("push: DATA: %w", replyError{err})
	}
	n, err := io.Copy(w, in)
	if err != nil {
		w.Close()
		return fmt.Errorf("push: sending: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("push: %w", replyError{err})
	}
	c.Quit()
	fmt.Fprintf(stdout, "delivered %d bytes to %s\n", n, rcpt)
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// replyError shows an SMTP reply with its enhanced status code
// ("550 5.1.1 no such user here").
type replyError struct{ err error }

func (e replyError) Error() string {
	var se *smtp.SMTPError
	if errors.As(e.err, &se) {
		ec := se.EnhancedCode
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, ec[0], ec[1], ec[2], se.Message)
	}
	return e.err.Error()
}

func (e replyError) Unwrap() error { return e.err }
