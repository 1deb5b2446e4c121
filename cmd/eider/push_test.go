package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The newcomer's tour of delivery: `eider serve`, `eider push` a message to
// a Unicode address through the SMTP maildrop, fetch it with curl over
// POP3, and stop the server with SIGTERM.
func TestPushThenFetchWithCurl(t *testing.T) {
	data := t.TempDir()
	_, errb, code := eider(t, data, nil, "user", "add", "дмитрий", "pw", "дмитрий@пример.рф")
	if code != 0 {
		t.Fatalf("user add: %s", errb)
	}
	// push needs the maildrop's address up front: take a free port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := l.Addr().String()
	l.Close()
	menv := append(env(data), "EIDER_SMTP_LISTEN="+smtpAddr, "EIDER_POP3_LISTEN=127.0.0.1:0", "EIDER_LMTP_LISTEN=127.0.0.1:0")
	srv := startServe(t, menv, "pop3", "smtp", "lmtp")
	addrs := srv.addrs
	if _, err := os.Stat(filepath.Join(data, "tls", "cert.pem")); err != nil {
		t.Fatalf("no generated certificate: %v", err)
	}
	msg := "From: someone@example.org\r\nSubject: pushed\r\n\r\nпривет из push\r\n"
	push := exec.Command(eiderBin, "push", "Дмитрий@xn--e1afmkfd.xn--p1ai")
	push.Env = menv
	push.Stdin = strings.NewReader(msg)
	out, err := push.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "delivered") {
		t.Fatalf("push: %v %s", err, out)
	}
	// An unknown recipient is refused with the enhanced status code.
	push = exec.Command(eiderBin, "push", "nobody@example.com")
	push.Env = menv
	push.Stdin = strings.NewReader(msg)
	if out, err := push.CombinedOutput(); err == nil || !strings.Contains(string(out), "5.1.1") {
		t.Fatalf("push to unknown: %v %s", err, out)
	}
	want := "Return-Path: <push@localhost>\r\nDelivered-To: Дмитрий@xn--e1afmkfd.xn--p1ai\r\n" + msg
	got, err := exec.Command("curl", "-sS", "pop3://%D0%B4%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9:pw@"+addrs["pop3"]+"/1").Output()
	if err != nil || string(got) != want {
		t.Fatalf("curl: %v\n got %q\nwant %q", err, got, want)
	}
	srv.stop(t)
}
