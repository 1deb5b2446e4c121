package imap

import (
	"strings"
	"testing"
)

func TestGreetingCapabilityNoopLogout(t *testing.T) {
	e := newTestEnv(t, nil)
	out := e.python(`
M = connect()
print("PRE", " ".join(sorted(M.capabilities)))
ok(M.noop())
typ, data = M.login(USER, PASS)
assert typ == "OK", data
typ, data = M.capability()
print("POST", data[0].decode())
typ, data = M.logout()
assert typ == "BYE", (typ, data)
`)
	pre, post := "", ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "PRE ") {
			pre = l
		}
		if strings.HasPrefix(l, "POST ") {
			post = l
		}
	}
	for _, c := range []string{"IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "ID", "IDLE", "LITERAL+"} {
		if !strings.Contains(pre+" ", " "+c+" ") {
			t.Errorf("pre-login capabilities %q lack %s", pre, c)
		}
	}
	if strings.Contains(pre, "LOGINDISABLED") || strings.Contains(pre, "CONDSTORE") {
		t.Errorf("pre-login capabilities %q", pre)
	}
	for _, c := range []string{"CONDSTORE", "NAMESPACE", "UNSELECT", "COMPRESS=DEFLATE", "QUOTA", "APPENDLIMIT=", "UTF8=ACCEPT", "SPECIAL-USE", "LIST-STATUS"} {
		if !strings.Contains(post, c) {
			t.Errorf("post-login capabilities %q lack %s", post, c)
		}
	}
	if strings.Contains(post, "STARTTLS") || strings.Contains(post, "AUTH=PLAIN") {
		t.Errorf("post-login capabilities %q offer login", post)
	}
}

func TestGoIMAPClientLogin(t *testing.T) {
	e := newTestEnv(t, nil)
	c := e.client(nil)
	caps := c.Caps()
	if !caps.Has("IDLE") || !caps.Has("CONDSTORE") {
		t.Errorf("caps after login: %v", caps)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestBadCommandsAndStates(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	if out := r.cmd("a1 SELECT INBOX"); !strings.HasPrefix(out[len(out)-1], "a1 BAD") {
		t.Errorf("SELECT before login: %q", out)
	}
	if out := r.cmd("a2 FROB"); !strings.HasPrefix(out[len(out)-1], "a2 BAD") {
		t.Errorf("unknown command: %q", out)
	}
	r.login()
	if out := r.cmd("a3 LOGIN alice x"); !strings.HasPrefix(out[len(out)-1], "a3 BAD") {
		t.Errorf("LOGIN twice: %q", out)
	}
	if out := r.cmd("a4 CLOSE"); !strings.HasPrefix(out[len(out)-1], "a4 BAD") {
		t.Errorf("CLOSE unselected: %q", out)
	}
}
