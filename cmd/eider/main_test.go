package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var eiderBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eider-bin")
	if err != nil {
		panic(err)
	}
	eiderBin = filepath.Join(dir, "eider")
	// -pgo=off: the tests check behaviour, and a build optimized with
	// default.pgo compiles every dependency again (minutes on two CPUs).
	if out, err := exec.Command("go", "build", "-pgo=off", "-o", eiderBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build eider: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env gives each test its own data directory, cheap password hashing and
// only the HTTP listener (on a free port).
func env(dataDir string) []string {
	return append(os.Environ(),
		"EIDER_DATA_DIR="+dataDir,
		"EIDER_PASSWORD_MEMORY_KIB=64",
		"EIDER_HTTP_LISTEN=127.0.0.1:0",
		"EIDER_IMAP_LISTEN=", "EIDER_POP3_LISTEN=", "EIDER_LMTP_LISTEN=", "EIDER_SMTP_LISTEN=",
	)
}

func eider(t *testing.T, dataDir string, stdin []byte, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	cmd := exec.Command(eiderBin, args...)
	cmd.Env = env(dataDir)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.Bytes(), e.Bytes(), code
}

func corpus(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join("..", "..", "mail", "mimetree", "testdata", "corpus", "*"))
	if len(files) < 20 {
		t.Fatalf("corpus: found %d files, want the 25 test messages", len(files))
	}
	return files
}

var storedRE = regexp.MustCompile(`stored uid (\d+) in INBOX`)

// A newcomer's first steps: create a user, put messages in, get them back
// byte for byte, and check the store.
func TestUserAppendCatCheck(t *testing.T) {
	data := t.TempDir()
	out, errb, code := eider(t, data, nil, "user", "add", "Алиса", "s3cret", "алиса@пример.рф")
	if code != 0 || !strings.Contains(string(out), "created user Алиса") {
		t.Fatalf("user add: code %d out %q err %q", code, out, errb)
	}
	_, errb, code = eider(t, data, nil, "user", "add", "алиса", "other")
	if code != 1 || !strings.Contains(string(errb), "exists") {
		t.Fatalf("duplicate user add: code %d err %q; want exit 1 and 'exists'", code, errb)
	}
	for i, f := range corpus(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// By address (punycode domain form) with a file argument, or by
		// username on stdin.
		args := []string{"append", "АЛИСА@xn--e1afmkfd.xn--p1ai", "INBOX", f}
		var stdin []byte
		if i%2 == 1 {
			args, stdin = []string{"append", "Алиса", "inbox"}, raw
		}
		out, errb, code := eider(t, data, stdin, args...)
		m := storedRE.FindSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("append %s: code %d out %q err %q", f, code, out, errb)
		}
		got, errb, code := eider(t, data, nil, "cat", "Алиса", "INBOX", string(m[1]))
		if code != 0 {
			t.Fatalf("cat uid %s: code %d err %q", m[1], code, errb)
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("%s: cat returned %d bytes that differ from the %d delivered", f, len(got), len(raw))
		}
	}
	out, errb, code = eider(t, data, nil, "check")
	if code != 0 || !strings.Contains(string(out), "consistent") {
		t.Fatalf("check: code %d out %q err %q", code, out, errb)
	}
	_, errb, code = eider(t, data, nil, "cat", "Алиса", "INBOX", "9999")
	if code != 1 || !strings.Contains(string(errb), "not found") {
		t.Fatalf("cat missing uid: code %d err %q", code, errb)
	}
}

func TestUsageErrors(t *testing.T) {
	data := t.TempDir()
	for _, args := range [][]string{{}, {"frobnicate"}, {"user"}, {"user", "add", "onlyname"}, {"cat", "a", "INBOX", "x"}} {
		_, errb, code := eider(t, data, nil, args...)
		if code != 2 || !strings.Contains(string(errb), "usage: eider") {
			t.Errorf("eider %q: code %d, stderr %q; want exit 2 with usage", args, code, errb)
		}
	}
	cmd := exec.Command(eiderBin, "check")
	cmd.Env = append(env(data), "EIDER_STORE_SYNC=sometimes")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "store.sync") {
		t.Errorf("bad config accepted or unclear: %v %q", err, out)
	}
}

var listenRE = regexp.MustCompile(`msg=listening proto=(\w+) addr=(\S+)`)

// serveChild is a running `eider serve` whose log lines are read as they
// come, so tests wait on what the server says, never on sleeps.
type serveChild struct {
	cmd   *exec.Cmd
	lines chan string
	log   []string
	// addrs maps a protocol ("http", "pop3", ...) to its listening address.
	addrs map[string]string
}

// startServe runs `eider serve` with env and returns once every protocol in
// protos has logged its listening address.
func startServe(t *testing.T, env []string, protos ...string) *serveChild {
	t.Helper()
	s := &serveChild{cmd: exec.Command(eiderBin, "serve"), lines: make(chan string, 100), addrs: map[string]string{}}
	s.cmd.Env = env
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	for _, p := range protos {
		for s.addrs[p] == "" {
			l, ok := <-s.lines
			if !ok {
				t.Fatalf("serve exited before %s was listening; log:\n%s", p, strings.Join(s.log, "\n"))
			}
			s.log = append(s.log, l)
			if m := listenRE.FindStringSubmatch(l); m != nil {
				s.addrs[m[1]] = m[2]
			}
		}
	}
	return s
}

// stop sends SIGTERM and checks that the server logs "stopped" and exits 0
// within 30 seconds.
func (s *serveChild) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := false
	for l := range s.lines {
		s.log = append(s.log, l)
		stopped = stopped || strings.Contains(l, "msg=stopped")
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !stopped {
			t.Fatalf("after SIGTERM: exit %v, stopped logged %v; log:\n%s", err, stopped, strings.Join(s.log, "\n"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit within 30s of SIGTERM")
	}
}

// serve answers the health check and stops cleanly on SIGTERM.
func TestServeHealthAndGracefulStop(t *testing.T) {
	srv := startServe(t, env(t.TempDir()), "http")
	resp, err := http.Get("http://" + srv.addrs["http"] + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["status"] != "ok" {
		t.Fatalf("health: %d %v", resp.StatusCode, body)
	}
	srv.stop(t)
}
