package imap

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

func TestAppendRaw(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Limits.MaxLiteral = 2000 })
	inbox := e.mailbox(e.alice, "INBOX")
	r := e.raw()
	r.login()
	out := r.expectOK("c CAPABILITY")
	if !hasLine(out, "APPENDLIMIT=2000") || !hasLine(out, "UIDPLUS") || !hasLine(out, "LITERAL+") {
		t.Errorf("capabilities: %q", out)
	}
	r.expectOK("s SELECT INBOX")
	msg := testMessage("appended")

	// Synchronising literal: continuation, then APPENDUID; the selected
	// mailbox learns of the message before the tagged OK.
	r.send(fmt.Sprintf(`a1 APPEND INBOX (\Seen $Pinned) "05-Mar-2024 08:00:00 +0000" {%d}`, len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("no continuation: %q", l)
	}
	r.send(msg)
	out = r.until("a1 ")
	want := fmt.Sprintf("a1 OK [APPENDUID %d 1]", inbox.UIDValidity)
	if !strings.HasPrefix(out[len(out)-1], want) || !hasLine(out, "* 1 EXISTS") {
		t.Errorf("APPEND: %q (want %q)", out, want)
	}
	msgs, err := e.svc.Store.Fetch(context.Background(), e.alice.ID, inbox.ID, store.UIDSet{{Start: 1, Stop: 1}}, false)
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	m := msgs[0]
	if m.Size != int64(len(msg)) || strings.Join(m.Flags, " ") != `$Pinned \Seen` || m.InternalDate.UTC().Format("2006-01-02 15:04") != "2024-03-05 08:00" {
		t.Errorf("stored: size %d flags %v date %v", m.Size, m.Flags, m.InternalDate)
	}
	out = r.expectOK("f FETCH 1 BODY.PEEK[]")
	if !hasLine(out, "Hello appended") {
		t.Errorf("FETCH of the appended message: %q", out)
	}

	// LITERAL+: no continuation request.
	r.send(fmt.Sprintf("a2 APPEND Drafts {%d+}", len(msg)))
	r.send(msg)
	out = r.until("a2 ")
	if !strings.HasPrefix(out[len(out)-1], "a2 OK [APPENDUID") || hasLine(out, "+ ") {
		t.Errorf("APPEND with LITERAL+: %q", out)
	}

	// Refusals before the message is sent: no continuation request.
	for _, tc := range []struct{ cmd, want string }{
		{"a3 APPEND Nowhere {10}", "a3 NO [TRYCREATE]"},
		{"a4 APPEND INBOX {5000}", "a4 NO [TOOBIG]"},
	} {
		r.send(tc.cmd)
		if l := r.line(); !strings.HasPrefix(l, tc.want) {
			t.Errorf("%s: %q, want %q", tc.cmd, l, tc.want)
		}
	}
	// Quota: the user has room for less than the message.
	u, err := e.svc.Store.GetUser(context.Background(), e.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	limit := u.StorageUsed + int64(len(msg)) - 1
	if _, err := e.svc.Store.UpdateUser(context.Background(), e.alice.ID, store.UserUpdate{QuotaLimit: &limit}); err != nil {
		t.Fatal(err)
	}
	r.send(fmt.Sprintf("a5 APPEND INBOX {%d}", len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "a5 NO [OVERQUOTA]") {
		t.Errorf("APPEND over quota: %q", l)
	}
	// Over quota with a non-synchronising literal: the message is read
	// and thrown away, the session stays usable.
	r.send(fmt.Sprintf("a6 APPEND INBOX {%d+}", len(msg)))
	r.send(msg)
	if out := r.until("a6 "); !strings.HasPrefix(out[len(out)-1], "a6 NO [OVERQUOTA]") {
		t.Errorf("APPEND LITERAL+ over quota: %q", out)
	}
	r.expectOK("n NOOP")
	// Junk after the literal: BAD, nothing stored.
	before := e.count(e.alice, "Drafts")
	r.send(fmt.Sprintf("a7 APPEND Drafts {%d+}", 5))
	r.send("hello extra")
	if out := r.until("a7 "); !strings.HasPrefix(out[len(out)-1], "a7 BAD") {
		t.Errorf("APPEND with trailing junk: %q", out)
	}
	if e.count(e.alice, "Drafts") != before {
		t.Error("a malformed APPEND stored a message")
	}
	if e.count(e.alice, "INBOX") != 1 {
		t.Errorf("INBOX has %d messages", e.count(e.alice, "INBOX"))
	}
	// \Recent cannot be set.
	r.send(fmt.Sprintf(`a8 APPEND Drafts (\Recent) {%d+}`, len(msg)))
	r.send(msg)
	if out := r.until("a8 "); !strings.HasPrefix(out[len(out)-1], "a8 BAD") {
		t.Errorf("APPEND with \\Recent: %q", out)
	}
	r.expectOK("n2 NOOP")
}

// TestAppendPythonTryCreate: imaplib sees TRYCREATE and APPENDUID.
func TestAppendPythonTryCreate(t *testing.T) {
	e := newTestEnv(t, nil)
	out := e.python(`
M = login()
typ, data = M.append("Nowhere", None, None, b"Subject: x\r\n\r\nbody\r\n")
assert typ == "NO" and b"[TRYCREATE]" in data[0], (typ, data)
ok(M.create("Nowhere"))
typ, data = M.append("Nowhere", "(\\Flagged)", None, b"Subject: x\r\n\r\nbody\r\n")
assert typ == "OK", (typ, data)
print(data[0].decode())
`)
	mb := e.mailbox(e.alice, "Nowhere")
	if !strings.Contains(out, fmt.Sprintf("[APPENDUID %d 1]", mb.UIDValidity)) {
		t.Errorf("python APPEND: %q", out)
	}
	if n := e.count(e.alice, "Nowhere"); n != 1 {
		t.Errorf("%d messages appended", n)
	}
}

// TestAppendUTF8: with UTF8=ACCEPT, APPEND UTF8 (~{n}) stores a message
// with raw UTF-8 headers (RFC 6855 §4), byte for byte.
func TestAppendUTF8(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	r.login()
	r.expectOK("e ENABLE UTF8=ACCEPT")
	msg := "From: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nHallo\r\n"
	r.send(fmt.Sprintf("a APPEND INBOX UTF8 (~{%d+}", len(msg)))
	r.send(msg + ")")
	if out := r.until("a "); !strings.HasPrefix(out[len(out)-1], "a OK [APPENDUID") {
		t.Fatalf("UTF8 APPEND: %q", out)
	}
	r.expectOK("s SELECT INBOX")
	r.send("f FETCH 1 (BODY.PEEK[] ENVELOPE)")
	got := r.readResponse("f")
	if !strings.Contains(got, fmt.Sprintf("BODY[] {%d}\r\n%s", len(msg), msg)) || !strings.Contains(got, "Grüße") {
		t.Errorf("FETCH of the UTF-8 message: %q", got)
	}
}

// TestAppendRefusedWhileLiteralArrives: a refused APPEND with a LITERAL+
// literal (RFC 7888 §4) is answered at once, even while the client is
// still sending the message, and the session then discards the rest of
// the literal and serves the next command. The session flushes whenever
// it waits for input, not only between commands.
func TestAppendRefusedWhileLiteralArrives(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	r.login()
	msg := strings.Repeat("Subject: big\r\n", 1) + "\r\n" + strings.Repeat("0123456789abcdef\r\n", 3000) // 54 KB
	half := len(msg) / 2
	// Half of the message: the NO must come before the rest is sent.
	r.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := r.conn.Write([]byte(fmt.Sprintf("a1 APPEND Nowhere {%d+}\r\n%s", len(msg), msg[:half]))); err != nil {
		t.Fatal(err)
	}
	if l := r.line(); !strings.HasPrefix(l, "a1 NO [TRYCREATE]") {
		t.Fatalf("refused APPEND: %q", l)
	}
	r.send(msg[half:])
	r.expectOK("n1 NOOP")
	// The whole literal in one write, followed by nothing: the answer
	// must not wait for a next command.
	r.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	if _, err := r.conn.Write([]byte(fmt.Sprintf("a2 APPEND Nowhere {%d+}\r\n%s\r\n", len(msg), msg))); err != nil {
		t.Fatal(err)
	}
	if l := r.line(); !strings.HasPrefix(l, "a2 NO [TRYCREATE]") {
		t.Fatalf("refused APPEND: %q", l)
	}
	r.expectOK("n2 NOOP")
	if n := e.count(e.alice, "INBOX"); n != 0 {
		t.Errorf("INBOX has %d messages after refused APPENDs", n)
	}
}
