package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/internal/tcpproxy"

	"github.com/eidermail/eider/mail/mongo/mongotest"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/redis/go-redis/v9"
)

// distEnv is env() for an instance of the distributed mode: the MongoDB
// backend on the test server (FerretDB unless MONGO_URI is set), one
// database and one Redis key prefix per test, LMTP and IMAP listening.
func distEnv(t *testing.T, db, prefix, redisURL, name string) []string {
	url := redisURL + "?client_name=" + name // so the test can kill this instance's connections
	return append(env(t.TempDir()),
		"EIDER_STORE_BACKEND=mongodb",
		"EIDER_STORE_MONGO_URI="+mongotest.URI(t),
		"EIDER_STORE_MONGO_DATABASE="+db,
		"EIDER_REDIS_URL="+url,
		"EIDER_REDIS_PREFIX="+prefix,
		"EIDER_LMTP_LISTEN=127.0.0.1:0",
		"EIDER_IMAP_LISTEN=127.0.0.1:0",
		"EIDER_POP3_LISTEN=127.0.0.1:0",
	)
}

// lmtpDeliver delivers messages with Python's smtplib.LMTP, one session.
func lmtpDeliver(t *testing.T, addr, rcpt string, subjects ...string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	script := `
import smtplib, sys
c = smtplib.LMTP(sys.argv[1], int(sys.argv[2]))
for subj in sys.argv[4:]:
    msg = "From: bob@example.org\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nHello.\r\n" % (sys.argv[3], subj, subj)
    c.sendmail("bob@example.org", [sys.argv[3]], msg)
c.quit()
print("ok")
`
	out, err := exec.Command("python3", append([]string{"-c", script, host, port, rcpt}, subjects...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("LMTP delivery to %s: %v\n%s", addr, err, out)
	}
}

// imapDo runs Python imaplib commands on one instance: script gets M
// (logged in as alice, INBOX selected).
func imapDo(t *testing.T, addr, body string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	script := "import imaplib, sys\nM = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))\nassert M.login('alice', 's3cret')[0] == 'OK'\nassert M.select('INBOX')[0] == 'OK'\n" + body + "\nM.logout()\nprint('ok')\n"
	out, err := exec.Command("python3", "-c", script, host, port).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("imaplib on %s: %v\n%s", addr, err, out)
	}
	return string(out)
}

// apiFlag sets \Flagged on alice's newest INBOX message through the REST
// API (Python's urllib): authenticate, find INBOX, PATCH the message.
func apiFlag(t *testing.T, addr string) {
	t.Helper()
	script := `
import json, sys, urllib.request
base = "http://" + sys.argv[1]
def call(method, path, body=None, tok=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if tok: req.add_header("Authorization", "Bearer " + tok)
    with urllib.request.urlopen(req) as r:
        return json.load(r)
auth = call("POST", "/authenticate", {"username": "alice", "password": "s3cret"})
tok, user = auth["token"], auth["user"]
inbox = [m for m in call("GET", "/users/%s/mailboxes" % user, tok=tok)["mailboxes"] if m["path"] == "INBOX"][0]
msg = call("GET", "/users/%s/mailboxes/%s/messages" % (user, inbox["id"]), tok=tok)["messages"][0]
out = call("PATCH", "/users/%s/mailboxes/%s/messages/%s" % (user, inbox["id"], msg["id"]), {"flagged": True}, tok=tok)
assert "\\Flagged" in out["flags"], out
print("ok")
`
	out, err := exec.Command("python3", "-c", script, addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("REST API on %s: %v\n%s", addr, err, out)
	}
}

// Two `eider serve` processes share the MongoDB-protocol store and Redis:
// an IMAP IDLE session on A sees, within a second each, a message delivered
// by LMTP to B, a flag set through the REST API on B, and an expunge by IMAP
// on B; after Redis drops A's connections it still sees the next delivery.
// While Redis is away for both, deliveries through A and B still succeed
// (the write lock is in the database), and A's session sees them once
// Redis is back. Concurrent deliveries through both instances get unique
// ascending UIDs and exact counters.
func TestDistributedTwoInstances(t *testing.T) {
	db := mongotest.Database()
	prefix := db + ":"
	// Instance A reaches Redis through a proxy the test can stop and start:
	// to A, a Redis restart.
	ropts, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	rp := &tcpproxy.Proxy{Target: ropts.Addr}
	rp.Start(t)
	defer rp.Stop()
	rpB := &tcpproxy.Proxy{Target: ropts.Addr}
	rpB.Start(t)
	defer rpB.Stop()
	envA := distEnv(t, db, prefix, fmt.Sprintf("redis://%s/%d", rp.Addr, ropts.DB), prefix+"A")
	envB := distEnv(t, db, prefix, fmt.Sprintf("redis://%s/%d", rpB.Addr, ropts.DB), prefix+"B")
	cmd := exec.Command(eiderBin, "user", "add", "alice", "s3cret", "alice@example.com")
	cmd.Env = envA
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add on the distributed store: %v\n%s", err, out)
	}
	a := startServe(t, envA, "imap", "lmtp", "pop3")
	b := startServe(t, envB, "imap", "lmtp", "http", "pop3")

	type event struct {
		kind string
		n    uint32
		at   time.Time
	}
	events := make(chan event, 100)
	c, err := imapclient.DialInsecure(a.addrs["imap"], &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				events <- event{"exists", *d.NumMessages, time.Now()}
			}
		},
		Expunge: func(seq uint32) { events <- event{"expunge", seq, time.Now()} },
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, _ := m.Collect()
			if buf != nil && slices.Contains(buf.Flags, imap.FlagFlagged) {
				events <- event{"flagged", buf.SeqNum, time.Now()}
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "s3cret").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	expect := func(kind string, n uint32, since time.Time, within time.Duration) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.kind != kind || e.n != n {
					continue
				}
				if d := e.at.Sub(since); d > within {
					t.Errorf("%s %d reached instance A after %v, want within %v", kind, n, d, within)
				} else {
					t.Logf("%s %d reached instance A %v after the change on B", kind, n, d.Round(time.Millisecond))
				}
				return
			case <-timeout:
				t.Fatalf("instance A's IDLE session never saw %s %d", kind, n)
			}
		}
	}
	start := time.Now()
	lmtpDeliver(t, b.addrs["lmtp"], "alice@example.com", "first")
	expect("exists", 1, start, time.Second)
	start = time.Now()
	apiFlag(t, b.addrs["http"])
	expect("flagged", 1, start, time.Second)
	start = time.Now()
	imapDo(t, b.addrs["imap"], `assert M.store('1', '+FLAGS', '\\Deleted')[0] == 'OK'
assert M.expunge()[0] == 'OK'`)
	expect("expunge", 1, start, time.Second)

	// Redis drops instance A's connections (its bus subscription among
	// them) while a message arrives on B: A resubscribes, catches up from
	// the journal, and its IDLE session still sees the message.
	killed := killRedisClients(t, prefix+"A")
	start = time.Now()
	lmtpDeliver(t, b.addrs["lmtp"], "alice@example.com", "during-outage")
	t.Logf("killed %d Redis connections of instance A", killed)
	expect("exists", 1, start, 5*time.Second) // reconnection backoff included

	// Redis goes away for both instances: their connections all go. Both
	// still take deliveries (the store's write lock is in the database,
	// not in Redis) and announce them to nobody; when Redis is back, A
	// re-subscribes, catches up from the journal, and its IDLE session
	// sees both messages.
	pub := redis.NewClient(ropts)
	defer pub.Close()
	rp.Stop()
	rpB.Stop()
	waitUntil(t, "A's subscription gone", func() bool {
		chs, _ := pub.PubSubChannels(context.Background(), prefix+"beacon:*").Result()
		return len(chs) == 0
	})
	start = time.Now()
	var owg sync.WaitGroup
	for i, srv := range []*serveChild{a, b} {
		owg.Add(1)
		go func() {
			defer owg.Done()
			lmtpDeliver(t, srv.addrs["lmtp"], "alice@example.com", fmt.Sprintf("during-restart-%d", i))
		}()
	}
	owg.Wait()
	rp.Start(t)
	rpB.Start(t)
	expect("exists", 3, start, 10*time.Second)
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	// Concurrent deliveries through both instances.
	const per = 6
	var wg sync.WaitGroup
	for i, srv := range []*serveChild{a, b, a, b} {
		var subjects []string
		for j := 0; j < per; j++ {
			subjects = append(subjects, fmt.Sprintf("c%d-%d", i, j))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lmtpDeliver(t, srv.addrs["lmtp"], "alice@example.com", subjects...)
		}()
	}
	wg.Wait()
	out := imapDo(t, a.addrs["imap"], `typ, data = M.uid('SEARCH', 'ALL')
print('UIDS', data[0].decode())
typ, data = M.status('INBOX', '(MESSAGES UIDNEXT)')
print('STATUS', data[0].decode())`)
	var uids []int
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "UIDS "); ok {
			for _, f := range strings.Fields(rest) {
				var u int
				fmt.Sscan(f, &u)
				uids = append(uids, u)
			}
		}
	}
	if len(uids) != 4*per+3 || !slices.IsSorted(uids) || len(slices.Compact(slices.Clone(uids))) != len(uids) {
		t.Fatalf("after %d concurrent deliveries (and 3 before): UIDs %v\n%s", 4*per, uids, out)
	}
	if !strings.Contains(out, fmt.Sprintf("MESSAGES %d UIDNEXT %d", 4*per+3, 4*per+5)) {
		t.Fatalf("STATUS after concurrent deliveries:\n%s", out)
	}
	chk := exec.Command(eiderBin, "check")
	chk.Env = envB
	if out, err := chk.CombinedOutput(); err != nil {
		t.Fatalf("eider check on the shared store: %v\n%s", err, out)
	}

	// One POP3 session per maildrop across instances (RFC 1939 §8): while
	// a session on A holds alice's maildrop, B refuses a second one.
	ha, pa, _ := net.SplitHostPort(a.addrs["pop3"])
	hb, pb, _ := net.SplitHostPort(b.addrs["pop3"])
	pop := `
import poplib, sys
A = poplib.POP3(sys.argv[1], int(sys.argv[2]))
A.user("alice"); A.pass_("s3cret")
B = poplib.POP3(sys.argv[3], int(sys.argv[4]))
B.user("alice")
try:
    B.pass_("s3cret")
    print("second session allowed")
except poplib.error_proto as e:
    print("refused", e)
A.quit()
B = poplib.POP3(sys.argv[3], int(sys.argv[4]))
B.user("alice"); B.pass_("s3cret")
print("after quit", B.stat()[0])
B.quit()
`
	pout, err := exec.Command("python3", "-c", pop, ha, pa, hb, pb).CombinedOutput()
	if err != nil || !strings.Contains(string(pout), "refused") || !strings.Contains(string(pout), fmt.Sprintf("after quit %d", 4*per+3)) {
		t.Fatalf("POP3 maildrop lock across instances: %v\n%s", err, pout)
	}
	a.stop(t)
	b.stop(t)
}

// killRedisClients kills the Redis connections named name (CLIENT KILL
// ID, as an operator would) and returns how many.
func killRedisClients(t *testing.T, name string) int {
	t.Helper()
	ctx := context.Background()
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatalf("CLIENT KILL ID %s: %v", id, err)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatalf("no Redis connection named %s:\n%s", name, list)
	}
	return n
}

// redisURL is the test Redis (EIDER_TEST_REDIS_URL, default the local one).
func redisURL() string {
	if u := os.Getenv("EIDER_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// waitUntil polls an external condition (Redis state) for up to 5s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling another process's state, not synchronizing by delay
	}
}
