// Package mongotest gives tests a MongoDB-protocol server: the one named by
// the MONGO_URI environment variable when it is set (a real MongoDB), else
// FerretDB v1.24.2 over the local PostgreSQL, built from tools/ferretdb
// (its own Go module) and started once per test binary.
//
// The FerretDB build is cached under the OS temporary directory, keyed by
// the SHA-256 of tools/ferretdb's go.mod, go.sum and main.go, so it is built
// once per machine and version. Each test binary gets a fresh PostgreSQL
// database (created by the ferretdb program, dropped when it stops; it
// stops when the test process exits, through its stdin). PostgreSQL is
// reached at EIDER_TEST_POSTGRES (default postgres://postgres@127.0.0.1:5432,
// trust authentication). Nothing here skips: a missing server fails the test.
package mongotest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// StartTimeout bounds building and starting FerretDB.
const StartTimeout = 5 * time.Minute

var (
	once     sync.Once
	uri      string
	startErr error
	proc     *exec.Cmd
	stdin    io.WriteCloser
	stderr   lockedBuffer
	dbSeq    atomic.Int64
)

// FerretDB reports whether tests run against FerretDB (MONGO_URI unset).
func FerretDB() bool { return os.Getenv("MONGO_URI") == "" }

// URI returns the server's connection string, starting FerretDB on first
// use. It fails the test if no server can be had.
func URI(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("MONGO_URI"); u != "" {
			uri = u
			return
		}
		uri, startErr = startFerret()
	})
	if startErr != nil {
		t.Fatalf("mongotest: %v", startErr)
	}
	return uri
}

// Database returns a database name not used before by this process, for a
// test that wants an empty database; on a real MongoDB the caller drops it.
func Database() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("eider_t%d_%s_%d", os.Getpid(), hex.EncodeToString(b[:]), dbSeq.Add(1))
}

// Stop stops the FerretDB started by URI, if any (TestMain may call it
// after m.Run; otherwise the process stops when the test binary exits).
func Stop() {
	if proc == nil {
		return
	}
	stdin.Close()
	done := make(chan struct{})
	go func() { _ = proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = proc.Process.Kill()
		<-done
	}
	proc = nil
}

// Stderr returns what FerretDB logged so far (for failure reports).
func Stderr() string { return stderr.String() }

// repoRoot finds the directory of Eider's go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/eidermail/eider\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("Eider's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Binary returns the path of the cached FerretDB build, building it first
// if needed.
func Binary() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "tools", "ferretdb")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return "", fmt.Errorf("reading tools/ferretdb: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "eider-ferretdb-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, "ferretdb")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "build-*")
	if err != nil {
		return "", err
	}
	tmp.Close()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", tmp.Name(), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("building tools/ferretdb: %w\n%s", err, out)
	}
	// Rename is atomic: concurrent builders each install a complete binary.
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

func startFerret() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	pg := os.Getenv("EIDER_TEST_POSTGRES")
	if pg == "" {
		pg = "postgres://postgres@127.0.0.1:5432"
	}
	pgURL := strings.TrimSuffix(pg, "/") + "/" + Database()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-postgresql-url", pgURL, "-create-db", "-drop-db", "-stdin-stop")
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting FerretDB: %w", err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "ferretdb ready "); ok {
				ready <- u
			}
		}
		close(ready)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	select {
	case u, ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			return "", fmt.Errorf("FerretDB exited before it was ready:\n%s", stderr.String())
		}
		proc, stdin = cmd, in
		return u, nil
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("FerretDB not ready after %v:\n%s", StartTimeout, stderr.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil // bounded: keep the start
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
