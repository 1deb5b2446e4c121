package imap

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCompareWithDovecot runs the session-core commands against Eider and
// against Dovecot (Debian's dovecot-imapd, started on loopback with a
// throw-away configuration) and checks that both give the same tagged
// status, except for the differences listed in dovecotDifferences, which
// are deliberate. The two transcripts are logged side by side (go test -v).
// Skipped when Dovecot is not installed.
func TestCompareWithDovecot(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	for _, bin := range []string{"/usr/sbin/dovecot", "/usr/lib/dovecot/imap"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skip("dovecot-imapd not installed") // dovecot-core alone (bench/lmtp.sh installs it) has no IMAP service
		}
	}
	dcAddr := startDovecot(t)
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("one"))

	dc := dialRaw(t, dcAddr)
	dc.expectOK("L1 LOGIN alice " + dovecotPassword)
	dcAppend := `X APPEND INBOX {` + fmt.Sprint(len(testMessage("one"))) + `+}`
	dc.send(dcAppend)
	dc.send(strings.TrimSuffix(testMessage("one"), "\r\n")) // the literal: the message exactly
	dc.send("")                                             // end of the APPEND command
	if l := dc.until("X "); !strings.HasPrefix(l[len(l)-1], "X OK") {
		t.Fatalf("dovecot append: %q", l)
	}
	ei := e.raw()
	ei.login()

	var report strings.Builder
	for i, c := range dovecotScript {
		tag := fmt.Sprintf("c%02d", i)
		a := ei.cmd(tag + " " + c)
		b := dc.cmd(tag + " " + c)
		sa, sb := tagged(a), tagged(b)
		fmt.Fprintf(&report, "\n### %s\n  eider:   %s\n  dovecot: %s\n", c, strings.Join(a, "\n           "), strings.Join(b, "\n           "))
		if sa != sb {
			if why, ok := dovecotDifferences[c]; ok {
				fmt.Fprintf(&report, "  (known difference: %s)\n", why)
				continue
			}
			t.Errorf("%s: eider %s, dovecot %s", c, sa, sb)
		}
	}
	t.Log(report.String())
}

// dovecotPassword is every Dovecot user's password (static passdb).
const dovecotPassword = "pw"

// dovecotScript is what both servers are sent after LOGIN.
var dovecotScript = []string{
	"CAPABILITY",
	"NAMESPACE",
	"ENABLE CONDSTORE",
	"ID NIL",
	"CREATE Work/Projects/",
	"CREATE Work",
	`LIST "" "*"`,
	`LIST "" "Work/%"`,
	`LIST "" ""`,
	"RENAME Work Job",
	`LIST "" "Job*"`,
	"SUBSCRIBE Job",
	`LSUB "" "J*"`,
	"UNSUBSCRIBE Job",
	`LIST (SUBSCRIBED) "" "J*"`,
	"DELETE Job",
	"DELETE Job/Projects",
	"DELETE Job",
	"SUBSCRIBE Job",
	`LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN))`,
	"CREATE &AMk-t&AOk-",
	`LIST "" "&AMk-*"`,
	"STATUS INBOX (MESSAGES UIDNEXT UNSEEN RECENT HIGHESTMODSEQ SIZE)",
	"STATUS Nope (MESSAGES)",
	"SELECT INBOX (CONDSTORE)",
	"EXAMINE INBOX",
	"UNSELECT",
	"UNSELECT",
	// Sequence sets on an empty mailbox: "*" has no message to stand for.
	"CREATE Empty",
	"SELECT Empty",
	"FETCH 1:* (FLAGS)",
	"FETCH * (FLAGS)",
	"FETCH 1 (FLAGS)",
	"UID FETCH 1:* (FLAGS)",
	`STORE 1:* +FLAGS (\Seen)`,
	"SEARCH 1:*",
	"COPY 1:* INBOX",
	"UNSELECT",
	"DELETE Empty",
	"SELECT Nope",
	"GETQUOTAROOT INBOX",
	`SETQUOTA "" (STORAGE 1)`,
	"DELETE Trash",
	"DELETE INBOX",
	"RENAME INBOX Old",
	"STATUS INBOX (MESSAGES)",
	"FROB",
	"LOGOUT",
}

// dovecotDifferences are the commands where Eider answers differently on
// purpose, with the reason.
var dovecotDifferences = map[string]string{
	"CREATE Work": "Eider creates the superiors of Work/Projects as real mailboxes (RFC 3501 §6.3.3 " +
		"SHOULD), so Work exists; Dovecot's maildir keeps Work a mere \\HasChildren name until created",
	"RENAME INBOX Old": "Eider moves INBOX's messages to Old (RFC 3501 §6.3.5); Dovecot's maildir " +
		"answers NO [CANNOT] (not supported)",
	"DELETE Job": "a mailbox with inferiors: Eider refuses (NO [HASCHILDREN], RFC 9051 §6.3.4); " +
		"Dovecot deletes it (RFC 3501 §6.3.4 allows both); the next DELETE Job then differs the other way",
	"DELETE Trash":            "Eider refuses to delete special-use mailboxes (NO [CANNOT]); Dovecot deletes them",
	`SETQUOTA "" (STORAGE 1)`: "Eider: NO [NOPERM], quotas are set by the administrator; Dovecot: root name differs",
	"GETQUOTAROOT INBOX":      "Dovecot's quota root is named after its quota rule; Eider has one root \"\" per account",
}

var taggedRE = regexp.MustCompile(`^c\d\d (OK|NO|BAD)`)

// tagged is the status of the tagged answer (OK, NO or BAD).
func tagged(lines []string) string {
	if m := taggedRE.FindStringSubmatch(lines[len(lines)-1]); m != nil {
		return m[1]
	}
	return lines[len(lines)-1]
}

// dialRaw connects a rawClient to addr and reads the greeting.
func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn, r: newReader(conn)}
	if g := c.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting: %q", g)
	}
	return c
}

// startDovecot runs Dovecot's IMAP server on a free loopback port with a
// static password (dovecotPassword) for any user, maildir storage in a
// temporary directory, the same special-use mailboxes as Eider and a
// 10 MiB quota. It returns the address once Dovecot accepts connections.
func startDovecot(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "eider-dovecot")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dir, 0o755)
	uid, gid := fmt.Sprint(os.Getuid()), fmt.Sprint(os.Getgid())
	if os.Getuid() == 0 { // Dovecot will not serve mail as root
		u, err := user.Lookup("dovecot")
		if err != nil {
			t.Skip("no dovecot user")
		}
		uid, gid = u.Uid, u.Gid
		if err := exec.Command("chown", uid+":"+gid, filepath.Join(dir, "mail")).Run(); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
first_valid_uid = 0
mail_location = maildir:%[1]s/mail/%%u
mail_plugins = quota
mail_vsize_bg_after_count = 0
protocol imap {
  mail_plugins = $mail_plugins imap_quota
}
plugin {
  quota = count:User quota
  quota_rule = *:storage=10M
  quota_vsizes = yes
}
passdb {
  driver = static
  args = password=%[2]s
}
userdb {
  driver = static
  args = uid=%[3]s gid=%[4]s home=%[1]s/mail/%%u
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox "Sent Mail" {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, dovecotPassword, uid, gid, port)
	if err := os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/sbin/dovecot", "-F", "-c", filepath.Join(dir, "dovecot.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Wait until the listener accepts (a condition checked every 20 ms,
	// bounded by waitTimeout).
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not start: %v\n%s", err, log)
		}
		<-tick.C
	}
}
