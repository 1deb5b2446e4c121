package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/eidermail/eider/certs"
	"github.com/eidermail/eider/mail/relay/relaytest"
)

const testMsg = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nline one\r\n.leading dot\r\nlast\r\n"

func TestSendPerRecipient(t *testing.T) {
	addr, dir := relaytest.StartPython(t)
	r, err := New(Options{Addr: addr, TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Send(context.Background(), "a@example.org", []string{"b@example.net", "nobody@example.net", "later@example.net", "c@example.com"}, []byte(testMsg))
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	if res[0].Err != nil || res[3].Err != nil {
		t.Fatalf("accepted recipients failed: %v / %v", res[0].Err, res[3].Err)
	}
	var e1, e2 *Error
	if !errors.As(res[1].Err, &e1) || e1.Code != 550 || e1.Enhanced != "5.1.1" || e1.Temporary {
		t.Fatalf("nobody@: %#v", res[1].Err)
	}
	if !errors.As(res[2].Err, &e2) || e2.Code != 451 || e2.Enhanced != "4.3.0" || !e2.Temporary {
		t.Fatalf("later@: %#v", res[2].Err)
	}
	got := relaytest.Received(t, dir)
	if len(got) != 1 {
		t.Fatalf("relay received %d messages, want 1", len(got))
	}
	if got[0].From != "a@example.org" || strings.Join(got[0].Rcpt, ",") != "b@example.net,c@example.com" {
		t.Fatalf("envelope %q → %q", got[0].From, got[0].Rcpt)
	}
	data, _ := base64.StdEncoding.DecodeString(got[0].Data)
	// smtpd hands over the lines joined by LF, dot-unstuffed.
	if want := strings.ReplaceAll(strings.TrimSuffix(testMsg, "\r\n"), "\r\n", "\n"); string(data) != want {
		t.Fatalf("data %q\nwant %q", data, want)
	}
}

func TestSendAllRefused(t *testing.T) {
	addr, dir := relaytest.StartPython(t)
	r, _ := New(Options{Addr: addr, TLS: TLSNone})
	res := r.Send(context.Background(), "a@example.org", []string{"nobody@example.net"}, []byte(testMsg))
	if res[0].Err == nil {
		t.Fatal("refused recipient reported as relayed")
	}
	if n := len(relaytest.Received(t, dir)); n != 0 {
		t.Fatalf("relay received %d messages with no accepted recipient", n)
	}
}

func TestSendUTF8(t *testing.T) {
	addr, dir := relaytest.StartPython(t)
	r, _ := New(Options{Addr: addr, TLS: TLSNone})
	res := r.Send(context.Background(), "a@example.org", []string{"пользователь@пример.рф"}, []byte(testMsg))
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got := relaytest.Received(t, dir)
	if len(got) != 1 || got[0].Rcpt[0] != "пользователь@пример.рф" {
		t.Fatalf("received %+v", got)
	}
	if !strings.Contains(strings.ToUpper(strings.Join(got[0].Opts, " ")), "SMTPUTF8") {
		t.Fatalf("MAIL without SMTPUTF8: %q", got[0].Opts)
	}
}

func TestConnectionRefusedIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r, _ := New(Options{Addr: addr, TLS: TLSNone})
	res := r.Send(context.Background(), "a@example.org", []string{"b@example.net", "c@example.net"}, []byte(testMsg))
	for _, x := range res {
		var e *Error
		if !errors.As(x.Err, &e) || !e.Temporary {
			t.Fatalf("%s: %#v, want a temporary error", x.Recipient, x.Err)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Addr: "relay.example.net"}, // no port
		{Addr: "relay.example.net:25", TLS: TLSNone},     // clear text to a remote host
		{Addr: "relay.example.net:25", TLS: "sometimes"}, // unknown mode
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(Options{Addr: "relay.example.net:25", TLS: TLSNone, AllowPlaintext: true}); err != nil {
		t.Error(err)
	}
}

// goSMTP is go-smtp's server with a self-signed certificate, STARTTLS or
// implicit TLS, and AUTH PLAIN for user "u" password "p".
type goSMTP struct {
	mu   sync.Mutex
	msgs [][]byte
	auth []string
}

type goSession struct {
	b    *goSMTP
	user string
}

func (b *goSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &goSession{b: b}, nil }
func (s *goSession) AuthMechanisms() []string                 { return []string{sasl.Plain} }
func (s *goSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "u" || pass != "p" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.user = user
		return nil
	}), nil
}
func (s *goSession) Mail(string, *smtp.MailOptions) error {
	if s.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authenticate first"}
	}
	return nil
}
func (s *goSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *goSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, b)
	s.b.auth = append(s.b.auth, s.user)
	s.b.mu.Unlock()
	return err
}
func (s *goSession) Reset()        {}
func (s *goSession) Logout() error { return nil }

func startGoSMTP(t *testing.T, implicit bool) (string, *goSMTP) {
	t.Helper()
	tc, err := certs.Load("", "", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &goSMTP{}
	srv := smtp.NewServer(b)
	srv.Domain = "relay.test"
	srv.TLSConfig = tc
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	var l net.Listener
	if implicit {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tc)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), b
}

func TestStartTLSAndAuth(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		addr, b := startGoSMTP(t, implicit)
		mode := TLSStartTLS
		if implicit {
			mode = TLSImplicit
		}
		// The certificate is self-signed: it must be refused unless the
		// operator says otherwise.
		r, _ := New(Options{Addr: addr, TLS: mode, Username: "u", Password: "p"})
		if res := r.Send(context.Background(), "a@example.org", []string{"b@example.net"}, []byte(testMsg)); res[0].Err == nil {
			t.Fatalf("%s: an unverifiable certificate was accepted", mode)
		}
		r, _ = New(Options{Addr: addr, TLS: mode, Username: "u", Password: "wrong", InsecureSkipVerify: true})
		res := r.Send(context.Background(), "a@example.org", []string{"b@example.net"}, []byte(testMsg))
		var e *Error
		if !errors.As(res[0].Err, &e) || e.Code != 535 {
			t.Fatalf("%s: wrong password: %#v", mode, res[0].Err)
		}
		r, _ = New(Options{Addr: addr, TLS: mode, Username: "u", Password: "p", InsecureSkipVerify: true})
		if res := r.Send(context.Background(), "a@example.org", []string{"b@example.net"}, []byte(testMsg)); res[0].Err != nil {
			t.Fatalf("%s: %v", mode, res[0].Err)
		}
		b.mu.Lock()
		if len(b.msgs) != 1 || !bytes.Equal(b.msgs[0], []byte(testMsg)) || b.auth[0] != "u" {
			t.Fatalf("%s: relay got %q as %q", mode, b.msgs, b.auth)
		}
		b.mu.Unlock()
	}
}

func TestStartTLSRequired(t *testing.T) {
	// Python's smtpd offers no STARTTLS: the relay must not fall back to
	// sending in the clear.
	addr, dir := relaytest.StartPython(t)
	r, _ := New(Options{Addr: addr, TLS: TLSStartTLS})
	res := r.Send(context.Background(), "a@example.org", []string{"b@example.net"}, []byte(testMsg))
	if res[0].Err == nil {
		t.Fatal("sent without STARTTLS")
	}
	if n := len(relaytest.Received(t, dir)); n != 0 {
		t.Fatalf("relay received %d messages in the clear", n)
	}
}

func TestContextCancel(t *testing.T) {
	// A server that accepts and never greets: Send must end with the
	// context, not hang for the command timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r, _ := New(Options{Addr: l.Addr().String(), TLS: TLSNone, Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Result)
	go func() { done <- r.Send(ctx, "a@example.org", []string{"b@example.net"}, []byte(testMsg)) }()
	cancel()
	res := <-done
	if res[0].Err == nil {
		t.Fatal("cancelled send reported success")
	}
}
