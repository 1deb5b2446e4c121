package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serve runs IMAP on a plain and an implicit-TLS listener; Python's
// imaplib logs in on both, and SIGTERM ends an idle session with BYE.
func TestServeIMAP(t *testing.T) {
	data := t.TempDir()
	if _, errb, code := eider(t, data, nil, "user", "add", "alice", "s3cret", "alice@example.com"); code != 0 {
		t.Fatalf("user add: %s", errb)
	}
	e := append(env(data), "EIDER_IMAP_LISTEN=127.0.0.1:0", "EIDER_IMAP_TLS_LISTEN=127.0.0.1:0", "EIDER_HTTP_LISTEN=127.0.0.1:0")
	srv := startServe(t, e, "imap", "imaps", "http")
	host, port, _ := net.SplitHostPort(srv.addrs["imap"])
	_, tport, _ := net.SplitHostPort(srv.addrs["imaps"])
	script := `
import imaplib, ssl, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
assert M.login("alice", "s3cret")[0] == "OK"
typ, data = M.select("INBOX")
assert typ == "OK" and data == [b"0"], (typ, data)
M.logout()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
M = imaplib.IMAP4_SSL(sys.argv[1], int(sys.argv[3]), ssl_context=ctx)
assert M.login("alice@example.com", "s3cret")[0] == "OK"
M.logout()
print("ok")
`
	out, err := exec.Command("python3", "-c", script, host, port, tport).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}

	// An idle TLS session is told BYE when the server stops.
	c, err := tls.Dial("tcp", srv.addrs["imaps"], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if g, _ := r.ReadString('\n'); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	// GET /metrics counts the open session (the gauge serve registers).
	// The imaplib sessions above may still be leaving: poll the server's
	// state until it settles.
	const want = "eider_sessions{protocol=\"imap\"} 1\n"
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get("http://" + srv.addrs["http"] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics do not count the one open IMAP session:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's state
	}
	// The SQLite store's indexer queue is a gauge too (a number, not NaN).
	if m := regexp.MustCompile(`(?m)^eider_index_queue ([0-9]+)$`).FindSubmatch(body); m == nil {
		t.Fatalf("no eider_index_queue gauge in the metrics:\n%s", body)
	}
	done := make(chan string, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		l, _ := r.ReadString('\n')
		done <- l
	}()
	srv.stop(t)
	if l := <-done; !strings.HasPrefix(l, "* BYE") {
		t.Errorf("at shutdown the idle session got %q, want * BYE", l)
	}
}
