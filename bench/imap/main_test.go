package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/eidermail/eider/imap"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
)

// startEider serves IMAP on a loopback port for users user1..userN.
func startEider(t *testing.T, n int) (string, *mail.Service) {
	t.Helper()
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	svc.AuthCache = mail.NewAuthCache(time.Minute, 0)
	ctx := context.Background()
	for i := range n {
		if _, err := svc.CreateUser(ctx, "user"+strconv.Itoa(i+1), "pw", "", 0); err != nil {
			t.Fatal(err)
		}
	}
	srv := imap.NewServer(imap.Options{Service: svc, AllowPlaintextLoopback: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String(), svc
}

func inboxCount(t *testing.T, svc *mail.Service, user string) int {
	t.Helper()
	ctx := context.Background()
	u, err := svc.Authenticate(ctx, user, "pw")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	refs, err := svc.Store.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(refs)
}

// Seeding fills every INBOX; both modes run the whole mix against a real
// Eider server, report every command, and leave the mailbox size unchanged.
func TestSeedAndRunAgainstEider(t *testing.T) {
	addr, svc := startEider(t, 2)
	c := config{addr: addr, userFmt: "user%d", pass: "pw", corpus: "../../mail/mimetree/testdata/corpus",
		clients: 2, seed: 7, dur: 300 * time.Millisecond}
	if err := seed(c); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"user1", "user2"} {
		if n := inboxCount(t, svc, u); n != 7 {
			t.Fatalf("%s INBOX after seed: %d messages, want 7", u, n)
		}
	}
	for _, mode := range []string{"open", "login"} {
		c.mode, c.label = mode, "x "
		var out bytes.Buffer
		if err := run(c, &out); err != nil {
			t.Fatalf("mode %s: %v", mode, err)
		}
		want := []string{"SELECT", "FETCH-FLAGS", "FETCH-BODY", "STORE", "APPEND", "EXPUNGE"}
		if mode == "login" {
			want = append(want, "LOGIN", "LOGOUT")
		}
		for _, cmd := range want {
			re := regexp.MustCompile(`(?m)^x ` + cmd + ` +([0-9]+) `)
			m := re.FindStringSubmatch(out.String())
			if m == nil || m[1] == "0" {
				t.Errorf("mode %s: no %s line with a count:\n%s", mode, cmd, out.String())
			}
		}
		if mode == "open" && regexp.MustCompile(`(?m)^x LOGIN `).MatchString(out.String()) {
			t.Errorf("mode open timed LOGIN:\n%s", out.String())
		}
		if !regexp.MustCompile(`(?m)^x total [1-9][0-9]* commands .*: [0-9]+ cmd/s$`).MatchString(out.String()) {
			t.Errorf("mode %s: no total line:\n%s", mode, out.String())
		}
		for _, u := range []string{"user1", "user2"} {
			if n := inboxCount(t, svc, u); n != 7 {
				t.Fatalf("mode %s: %s INBOX has %d messages after the run, want 7", mode, u, n)
			}
		}
	}
}

// A wrong password or an empty mailbox is an error, not a report.
func TestRunErrors(t *testing.T) {
	addr, _ := startEider(t, 1)
	c := config{addr: addr, userFmt: "user%d", pass: "bad", mode: "open", clients: 1, dur: 100 * time.Millisecond}
	if err := run(c, &bytes.Buffer{}); err == nil {
		t.Fatal("wrong password: no error")
	}
	c.pass = "pw"
	var out bytes.Buffer
	if err := run(c, &out); err == nil || out.Len() != 0 {
		t.Fatalf("empty INBOX: err %v, output %q", err, out.String())
	}
	c.mode = "sometimes"
	if err := run(c, &bytes.Buffer{}); err == nil {
		t.Fatal("bad mode accepted")
	}
	if err := seed(config{addr: addr, userFmt: "user%d", pass: "pw", corpus: t.TempDir(), clients: 1, seed: 1}); err == nil {
		t.Fatal("seed from an empty corpus: no error")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}} {
		if got := pct(d, c.p); got != c.want {
			t.Errorf("p%d = %v, want %v", c.p, got, c.want)
		}
	}
	if got := pct(d[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one = %v", got)
	}
}
