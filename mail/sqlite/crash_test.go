package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

const crashEnv = "EIDER_SQLITE_CRASH_DIR"

// crashMessage builds message i: every 4th carries a 64 KiB blob part.
func crashMessage(ctx context.Context, t testing.TB, bs blob.Store, i int) *store.NewMessage {
	head := []byte(fmt.Sprintf("Subject: crash %d\r\nMessage-ID: <c%d@x>\r\n\r\n", i, i))
	body := []byte(fmt.Sprintf("body of message %d\r\n", i))
	segs := []blob.Segment{{Inline: head, Size: int64(len(head))}, {Inline: body, Size: int64(len(body))}}
	size := int64(len(head) + len(body))
	if i%4 == 0 {
		att := make([]byte, 64<<10)
		rand.New(rand.NewSource(int64(i))).Read(att)
		w, err := bs.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(att)
		h, n, err := w.Commit()
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, blob.Segment{Hash: h, Size: n})
		size += n
	}
	return &store.NewMessage{Size: size, Segments: segs, Subject: fmt.Sprintf("crash %d", i),
		MessageID: fmt.Sprintf("c%d@x", i), Text: string(body)}
}

// TestCrashChild is the child of TestCrashSafety: it appends until killed,
// printing "ACK uid i" for every Append that returned nil and "FLAG uid"
// for every StoreFlags (keyword $crash on that message) that returned nil.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child of TestCrashSafety only")
	}
	ctx := context.Background()
	bs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "eider.db")}, bs)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing gets indexed: the kill leaves every message queued for the
	// full-text indexer, which must pick them up after the restart.
	s.pauseIndexer()
	u, err := s.FindUser(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 1; ; i++ {
		m, err := s.Append(ctx, u.ID, mb.ID, crashMessage(ctx, t, bs, i))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "ACK %d %d\n", m.UID, i)
		out.Flush()
		// Flag changes go through the group commit as well: every
		// acknowledged one must survive too.
		set := store.UIDSet{{Start: m.UID, Stop: m.UID}}
		if _, err := s.StoreFlags(ctx, u.ID, mb.ID, set, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"$crash"}}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "FLAG %d\n", m.UID)
		out.Flush()
	}
}

// TestCrashSafety kills a child process (SIGKILL) that is appending and
// flagging, and checks that every acknowledged append and flag change
// survived and the store is consistent.
func TestCrashSafety(t *testing.T) {
	const want = 300
	ctx := context.Background()
	dir := t.TempDir()
	bs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "eider.db")}, bs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, store.NewUser{Username: "crash"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint32]int{}
	flagged := map[uint32]bool{}
	sc := bufio.NewScanner(pipe)
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	for len(acked) < want && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "FLAG" {
			uid, _ := strconv.Atoi(f[1])
			flagged[uint32(uid)] = true
			continue
		}
		if len(f) != 3 || f[0] != "ACK" {
			continue
		}
		uid, _ := strconv.Atoi(f[1])
		i, _ := strconv.Atoi(f[2])
		acked[uint32(uid)] = i
	}
	deadline.Stop()
	cmd.Process.Signal(syscall.SIGKILL)
	io.Copy(io.Discard, pipe)
	cmd.Wait()
	if len(acked) < want {
		t.Fatalf("child acknowledged only %d appends; stderr:\n%s", len(acked), stderr.String())
	}

	bs, err = blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Config{Path: filepath.Join(dir, "eider.db")}, bs)
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer s.Close()
	u, err := s.FindUser(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1}}, true)
	if err != nil {
		t.Fatal(err)
	}
	have := map[uint32]*store.Message{}
	for i := range ms {
		have[ms[i].UID] = &ms[i]
	}
	for uid, i := range acked {
		m, ok := have[uid]
		if !ok {
			t.Fatalf("acknowledged UID %d (append %d) lost in the crash (%d acked, %d present)", uid, i, len(acked), len(ms))
		}
		if m.Subject != fmt.Sprintf("crash %d", i) {
			t.Fatalf("UID %d holds %q, want append %d", uid, m.Subject, i)
		}
		if flagged[uid] && !slices.Contains(m.Flags, "$crash") {
			t.Fatalf("acknowledged flag change of UID %d lost in the crash: %v", uid, m.Flags)
		}
		rc, err := s.OpenMessage(ctx, m, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || int64(len(raw)) != m.Size {
			t.Fatalf("UID %d: read %d of %d bytes: %v", uid, len(raw), m.Size, err)
		}
	}
	// The append in flight at the kill may have left its blob unreferenced;
	// that is the only acceptable problem, and the sweep removes it.
	c, err := s.CheckConsistency(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Problems {
		if !strings.Contains(p, "not referenced") {
			t.Fatalf("after crash: %s (all problems: %q)", p, c.Problems)
		}
	}
	if len(c.Problems) > 1 {
		t.Fatalf("after crash %d orphan blobs, want at most the one in flight: %q", len(c.Problems), c.Problems)
	}
	if _, err := s.SweepOrphanBlobs(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
		t.Fatalf("after sweep: %v %q", err, c.Problems)
	}
	// The messages the child left queued are indexed by the reopened
	// store's indexer, and found by search all along.
	someUID, someI := uint32(0), 0
	for uid, i := range acked {
		someUID, someI = uid, i
		break
	}
	find := func() {
		t.Helper()
		got, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{fmt.Sprintf("message %d\r", someI)}})
		if err != nil || !slices.Equal(got, []uint32{someUID}) {
			t.Fatalf("search for append %d = %v, %v; want UID %d", someI, got, err, someUID)
		}
	}
	find()
	waitIndexed(t, s)
	waitBatch(t, s) // the reopened store's indexer ran: the child indexed nothing
	if n := count(t, s, `SELECT count(*) FROM fts`); n != int64(len(ms)) {
		t.Fatalf("%d messages indexed, want all %d", n, len(ms))
	}
	find()
	if c, err = s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
		t.Fatalf("after indexing: %v %q", err, c.Problems)
	}
	if len(flagged) < want-1 {
		t.Fatalf("only %d acknowledged flag changes for %d appends", len(flagged), len(acked))
	}
	t.Logf("%d acknowledged appends and %d flag changes survived SIGKILL; %d messages present", len(acked), len(flagged), len(ms))
}
