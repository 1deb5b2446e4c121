package imap

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// curl, a third IMAP client nobody here wrote (libcurl's IMAP, RFC 5092
// URLs): it lists mailboxes and fetches a message by UID over plain IMAP
// and implicit TLS, and gets the stored message back byte for byte.
func TestCurlFetch(t *testing.T) {
	e := newTestEnv(t, nil)
	raw := corpusMessage(t, "corpus/msg_07.txt")
	e.appendMsg(e.alice, "INBOX", testMessage("first"))
	m := e.appendMsg(e.alice, "INBOX", raw)
	user := "alice:" + testPassword
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-sS", "--max-time", "20", "-u", user}, args...)...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("curl %s: %v %s", strings.Join(args, " "), err, msg)
		}
		return out
	}
	list := run("imap://" + e.addr + "/")
	if !bytes.Contains(list, []byte(`"INBOX"`)) && !bytes.Contains(list, []byte(` INBOX`)) {
		t.Fatalf("curl LIST output lacks INBOX:\n%s", list)
	}
	for _, url := range []string{
		fmt.Sprintf("imap://%s/INBOX;UID=%d", e.addr, m.UID),
		fmt.Sprintf("imaps://%s/INBOX;UID=%d", e.tlsAddr, m.UID),
	} {
		args := []string{url}
		if strings.HasPrefix(url, "imaps") {
			args = append([]string{"-k"}, args...) // self-signed test certificate
		}
		if got := run(args...); !bytes.Equal(got, []byte(raw)) {
			t.Fatalf("%s: %d bytes, want the %d stored bytes (first diff near %d)", url, len(got), len(raw), firstDiff(got, []byte(raw)))
		}
	}
	// A section: the first part's text (RFC 5092 ;SECTION=).
	if got := run(fmt.Sprintf("imap://%s/INBOX;UID=%d;SECTION=HEADER.FIELDS%%20(SUBJECT)", e.addr, m.UID)); !bytes.HasPrefix(bytes.ToLower(got), []byte("subject:")) {
		t.Fatalf("section fetch: %q", got)
	}
	// A wrong password is refused (curl exits non-zero, nothing printed).
	if out, err := exec.Command("curl", "-sS", "--max-time", "20", "-u", "alice:wrong", fmt.Sprintf("imap://%s/INBOX;UID=%d", e.addr, m.UID)).Output(); err == nil || len(out) != 0 {
		t.Fatalf("wrong password: %v, %d bytes", err, len(out))
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
