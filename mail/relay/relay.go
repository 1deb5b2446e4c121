// Package relay hands submitted mail to an outbound SMTP server (a
// smarthost), which queues it and delivers it to other domains. Eider does
// not deliver to remote MX hosts itself: it submits once, reports each
// recipient's answer, and leaves queueing and retries to the smarthost.
//
// The session follows RFC 5321 (§3.3 mail transaction: MAIL, one RCPT per
// recipient, DATA), with STARTTLS (RFC 3207) or implicit TLS (RFC 8314 §3),
// AUTH PLAIN (RFC 4954, RFC 4616), SIZE (RFC 1870), 8BITMIME (RFC 6152) and
// SMTPUTF8 (RFC 6531) when an envelope address is not ASCII.
package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the connection to the relay.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS and refuses to
	// go on when the server does not offer it (RFC 3207 §4.1: a client that
	// requires TLS must not send mail in the clear).
	TLSStartTLS = "starttls"
	// TLSImplicit opens the connection in TLS (port 465, RFC 8314 §3.3).
	TLSImplicit = "tls"
	// TLSNone sends in the clear; allowed only to a loopback address, or
	// with Options.AllowPlaintext.
	TLSNone = "none"
)

// Options configure the relay. The zero TLS mode is TLSStartTLS.
type Options struct {
	// Addr is host:port of the smarthost.
	Addr string
	TLS  string
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN; only over TLS (or to loopback), never in the clear elsewhere.
	Username, Password string
	// HeloName is the name given in EHLO (default "localhost").
	HeloName string
	// Timeout bounds each command and the whole DATA transfer (default 1m).
	Timeout time.Duration
	// AllowPlaintext permits TLSNone to a non-loopback host (for a relay on
	// a private network the operator trusts).
	AllowPlaintext bool
	// InsecureSkipVerify accepts any certificate; RootCAs replaces the
	// system roots (tests, private CAs).
	InsecureSkipVerify bool
	RootCAs            *x509.CertPool
}

// Relay submits messages to one smarthost. It keeps no connection open
// between messages, so it is safe for concurrent use.
type Relay struct {
	o Options
}

// New checks the options and returns a Relay.
func New(o Options) (*Relay, error) {
	if o.Addr == "" {
		return nil, errors.New("relay: no address")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay: address %q: %w", o.Addr, err)
	}
	if o.TLS == "" {
		o.TLS = TLSStartTLS
	}
	switch o.TLS {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(host) && !o.AllowPlaintext {
			return nil, fmt.Errorf("relay: tls %q to the non-loopback host %q: set allow_plaintext to send in the clear", o.TLS, host)
		}
	default:
		return nil, fmt.Errorf("relay: tls %q: want %q, %q or %q", o.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if o.HeloName == "" {
		o.HeloName = "localhost"
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	return &Relay{o: o}, nil
}

// Addr is the smarthost's address.
func (r *Relay) Addr() string { return r.o.Addr }

// Error is the relay's answer to one recipient (or to the whole
// transaction). Temporary is true for 4xx replies and for network
// failures: the message was not accepted and may be submitted again.
type Error struct {
	Temporary bool
	// Code and Enhanced are the SMTP reply (0 and "" for a network error).
	Code     int
	Enhanced string
	Message  string
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return "relay: " + e.Message
	}
	if e.Enhanced != "" {
		return fmt.Sprintf("relay: %d %s %s", e.Code, e.Enhanced, e.Message)
	}
	return fmt.Sprintf("relay: %d %s", e.Code, e.Message)
}

// Result is the relay's answer for one recipient; Err is nil when the
// relay accepted the message for it (RFC 5321 §4.2.5: from then on the
// relay is responsible for it).
type Result struct {
	Recipient string
	Err       error
}

// Send submits msg from the envelope sender to the recipients in one mail
// transaction and returns one Result per recipient, in order. Recipients
// the relay refused at RCPT get that reply; when the transaction as a
// whole fails (connection, TLS, AUTH, MAIL or DATA), every recipient not
// already refused gets that error.
func (r *Relay) Send(ctx context.Context, from string, rcpts []string, msg []byte) []Result {
	res := make([]Result, len(rcpts))
	for i, rc := range rcpts {
		res[i].Recipient = rc
	}
	failAll := func(err error) []Result {
		for i := range res {
			if res[i].Err == nil {
				res[i].Err = err
			}
		}
		return res
	}
	if len(rcpts) == 0 {
		return res
	}
	c, stop, err := r.dial(ctx)
	if err != nil {
		return failAll(err)
	}
	defer stop()
	defer c.Close()

	utf8 := !isASCII(from)
	for _, rc := range rcpts {
		utf8 = utf8 || !isASCII(rc)
	}
	if utf8 {
		if ok, _ := c.Extension("SMTPUTF8"); !ok {
			// RFC 6531 §3.4: without SMTPUTF8 the message cannot be sent.
			return failAll(&Error{Code: 553, Enhanced: "5.6.7", Message: "the relay does not support SMTPUTF8, needed for a non-ASCII address"})
		}
	}
	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(msg)), UTF8: utf8}); err != nil {
		return failAll(r.wrap(ctx, err))
	}
	accepted := 0
	for i, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			res[i].Err = r.wrap(ctx, err)
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return failAll(res[i].Err) // the connection broke
			}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		c.Quit()
		return res
	}
	w, err := c.Data()
	if err != nil {
		return failAll(r.wrap(ctx, err))
	}
	if _, err := w.Write(msg); err != nil {
		return failAll(r.wrap(ctx, err))
	}
	if err := w.Close(); err != nil {
		return failAll(r.wrap(ctx, err))
	}
	c.Quit()
	return res
}

// dial connects, says EHLO, secures the connection and authenticates. The
// connection is closed when ctx ends (which unblocks any read), until stop
// is called.
func (r *Relay) dial(ctx context.Context) (c *smtp.Client, stop func() bool, err error) {
	d := net.Dialer{Timeout: r.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", r.o.Addr)
	if err != nil {
		return nil, nil, &Error{Temporary: true, Message: err.Error()}
	}
	stop = context.AfterFunc(ctx, func() { conn.Close() })
	c, err = r.open(ctx, conn)
	if err != nil {
		stop()
		conn.Close()
		return nil, nil, err
	}
	return c, stop, nil
}

// open runs the session's opening on conn: greeting, EHLO, TLS, AUTH.
func (r *Relay) open(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	var err error
	host, _, _ := net.SplitHostPort(r.o.Addr)
	tc := &tls.Config{ServerName: host, InsecureSkipVerify: r.o.InsecureSkipVerify, RootCAs: r.o.RootCAs, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	conn.SetDeadline(time.Now().Add(r.o.Timeout)) // greeting, first EHLO and TLS handshake
	switch r.o.TLS {
	case TLSImplicit:
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &Error{Temporary: true, Message: "tls: " + err.Error()}
		}
		c = smtp.NewClient(tconn)
	case TLSStartTLS:
		// RFC 3207 §4.1: a client that requires TLS does not go on in
		// the clear when STARTTLS is missing or fails.
		if c, err = smtp.NewClientStartTLS(conn, tc); err != nil {
			conn.Close()
			return nil, &Error{Temporary: true, Message: "starttls: " + err.Error()}
		}
	default:
		c = smtp.NewClient(conn)
	}
	conn.SetDeadline(time.Time{})
	c.CommandTimeout = r.o.Timeout
	c.SubmissionTimeout = r.o.Timeout
	if err := c.Hello(r.o.HeloName); err != nil {
		c.Close()
		return nil, r.wrap(ctx, err)
	}
	if r.o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.o.Username, r.o.Password)); err != nil {
			c.Close()
			return nil, r.wrap(ctx, err)
		}
	}
	return c, nil
}

// wrap turns a go-smtp error into an *Error: an SMTP reply keeps its codes,
// anything else (network, timeout, cancellation) is temporary.
func (r *Relay) wrap(ctx context.Context, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := &Error{Temporary: se.Code >= 400 && se.Code < 500, Code: se.Code, Message: se.Message}
		if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
			e.Enhanced = fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return e
	}
	if ctx.Err() != nil {
		return &Error{Temporary: true, Message: ctx.Err().Error()}
	}
	return &Error{Temporary: true, Message: err.Error()}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
