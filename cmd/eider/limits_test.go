package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/mongo/mongotest"
)

// Two `eider serve` processes sharing the store and Redis share the login
// limits: failed logins by IMAP, POP3 and the API on either instance add up
// per client address and then block the address on both, on every
// protocol; imap.max_connections_per_user spans the instances. Real
// clients: Python's imaplib, poplib and urllib.
func TestDistributedLoginLimits(t *testing.T) {
	db := mongotest.Database()
	prefix := db + ":"
	limits := []string{"EIDER_HTTP_MAX_LOGIN_FAILURES=3", "EIDER_IMAP_MAX_CONNECTIONS_PER_USER=1"}
	envA := append(distEnv(t, db, prefix, redisURL(), prefix+"A"), limits...)
	envB := append(distEnv(t, db, prefix, redisURL(), prefix+"B"), limits...)
	cmd := exec.Command(eiderBin, "user", "add", "alice", "s3cret", "alice@example.com")
	cmd.Env = envA
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add on the distributed store: %v\n%s", err, out)
	}
	a := startServe(t, envA, "imap", "pop3", "http")
	b := startServe(t, envB, "imap", "pop3", "http")

	script := `
import imaplib, poplib, json, sys, urllib.request, urllib.error
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def hp(addr):
    h, p = addr.rsplit(":", 1)
    return h, int(p)
def imap_login(inst, pw):
    M = imaplib.IMAP4(*hp(inst["imap"]))
    try:
        M.login("alice", pw)
        return M, "OK"
    except imaplib.IMAP4.error as e:
        m = e.args[0]
        return M, "NO " + (m.decode() if isinstance(m, bytes) else str(m))
def pop_login(inst, pw):
    P = poplib.POP3(*hp(inst["pop3"]), timeout=10)
    try:
        P.user("alice")
        r = P.pass_(pw).decode()
        P.quit()
        return r
    except poplib.error_proto as e:
        return e.args[0].decode()
def api_login(inst, pw):
    req = urllib.request.Request("http://" + inst["http"] + "/authenticate", method="POST",
        data=json.dumps({"username": "alice", "password": pw}).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code

# One IMAP session per user across both instances.
M1, r = imap_login(a, "s3cret")
assert r == "OK", r
M2, r = imap_login(b, "s3cret")
print("second-session", r)
M1.logout()

# One failure per protocol, spread over both instances: the limit of 3.
print("imap-wrong", imap_login(a, "wrong")[1])
print("pop3-wrong", pop_login(b, "wrong"))
print("api-wrong", api_login(a, "wrong"))
# The right password is now refused everywhere.
print("imap-blocked", imap_login(b, "s3cret")[1])
print("pop3-blocked", pop_login(a, "s3cret"))
print("api-blocked", api_login(b, "s3cret"))
`
	jsonAddrs := func(s *serveChild) string {
		return `{"imap":"` + s.addrs["imap"] + `","pop3":"` + s.addrs["pop3"] + `","http":"` + s.addrs["http"] + `"}`
	}
	out, err := exec.Command("python3", "-c", script, jsonAddrs(a), jsonAddrs(b)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(l, " ")
		got[k] = v
	}
	for k, want := range map[string]string{
		"second-session": "NO [LIMIT]",
		"imap-wrong":     "NO [AUTHENTICATIONFAILED]",
		"pop3-wrong":     "-ERR [AUTH] invalid login",
		"api-wrong":      "401",
		"imap-blocked":   "NO [UNAVAILABLE] too many failed logins",
		"pop3-blocked":   "-ERR [AUTH] too many failed logins",
		"api-blocked":    "429",
	} {
		if !strings.HasPrefix(got[k], want) {
			t.Errorf("%s: %q, want %q...\n%s", k, got[k], want, out)
		}
	}
}
