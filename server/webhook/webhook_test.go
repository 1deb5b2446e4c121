package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/cluster/clustertest"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/server/webhook"
)

const secret = "0123456789abcdef-secret"

// post is one request the receiver got.
type post struct {
	sig, delivery, attempt, eventHdr string
	body                             []byte
	d                                webhook.Delivery
}

// receiver is a real HTTP server on loopback recording every POST; answer
// decides the status of each (nil: 200).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []post
	answer func(p post, n int) int
	got    chan struct{}
}

func newReceiver(t *testing.T, answer func(p post, n int) int) *receiver {
	r := &receiver{answer: answer, got: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		p := post{sig: req.Header.Get(webhook.HeaderSignature), delivery: req.Header.Get(webhook.HeaderDelivery),
			attempt: req.Header.Get(webhook.HeaderAttempt), eventHdr: req.Header.Get(webhook.HeaderEvent), body: b}
		if err := json.Unmarshal(b, &p.d); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		r.mu.Lock()
		r.posts = append(r.posts, p)
		n := len(r.posts)
		r.mu.Unlock()
		code := 200
		if r.answer != nil {
			code = r.answer(p, n)
		}
		w.WriteHeader(code)
		r.got <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// waitFor polls the recorded posts until cond holds, failing after 10s.
func (r *receiver) waitFor(t *testing.T, what string, cond func([]post) bool) []post {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		ps := append([]post(nil), r.posts...)
		r.mu.Unlock()
		if cond(ps) {
			return ps
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; got %d posts: %s", what, len(ps), describe(ps))
		}
	}
}

func describe(ps []post) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s attempt=%s %s", p.delivery, p.attempt, p.d.Event.Type)
	}
	return b.String()
}

func countType(ps []post, t api.EventType) int {
	n := 0
	for _, p := range ps {
		if p.d.Event.Type == t {
			n++
		}
	}
	return n
}

type fixture struct {
	svc  *mail.Service
	st   webhook.Store
	user string
	box  string
}

func newFixture(t *testing.T) *fixture {
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	st, ok := svc.Store.(webhook.Store)
	if !ok {
		t.Fatalf("%T keeps no webhooks", svc.Store)
	}
	u, err := svc.CreateUser(context.Background(), "hank", "secret-pass-1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	in, err := svc.Store.FindMailbox(context.Background(), u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, st: st, user: u.ID, box: in.ID}
}

func (f *fixture) append(t *testing.T, subject string) *store.Message {
	t.Helper()
	m, err := f.svc.Append(context.Background(), f.user, f.box, strings.NewReader("Subject: "+subject+"\r\n\r\nbody\r\n"), nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) hook(t *testing.T, url string, events ...string) *store.Webhook {
	t.Helper()
	w, err := f.st.CreateWebhook(context.Background(), store.NewWebhook{URL: url, Secret: secret, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// hookID returns the ID of the only webhook.
func (f *fixture) hookID(t *testing.T) string {
	t.Helper()
	l, err := f.st.ListWebhooks(context.Background())
	if err != nil || len(l) != 1 {
		t.Fatalf("ListWebhooks = %v, %v", l, err)
	}
	return l[0].ID
}

// start runs a dispatcher until the test ends (or stop is called).
func (f *fixture) start(t *testing.T, leases webhook.Leaser, o webhook.Options) (stop func()) {
	t.Helper()
	o.Store, o.Leases = f.st, leases
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	if o.Backoff == 0 {
		o.Backoff = 10 * time.Millisecond
	}
	o.Logger = slog.New(slog.DiscardHandler)
	d, err := webhook.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// TestDeliverySigned: an append reaches the receiver as a signed POST with
// the delivery id and attempt in headers and body; events that happened
// before the webhook existed are not delivered.
func TestDeliverySigned(t *testing.T) {
	f := newFixture(t)
	f.append(t, "before the webhook")
	r := newReceiver(t, nil)
	w := f.hook(t, r.srv.URL)
	f.start(t, &webhook.Local{}, webhook.Options{})
	m := f.append(t, "after")
	ps := r.waitFor(t, "message.created", func(ps []post) bool { return countType(ps, api.MessageCreated) >= 1 })
	var p post
	for _, q := range ps {
		if q.d.Event.Type == api.MessageCreated {
			p = q
			break
		}
	}
	if *p.d.Event.Message != m.ID || p.d.User != f.user || p.d.Webhook != w.ID {
		t.Fatalf("delivery %+v, want message %s of user %s", p.d, m.ID, f.user)
	}
	if countType(ps, api.MessageCreated) != 1 {
		t.Fatalf("the append before the webhook was delivered too: %s", describe(ps))
	}
	if !webhook.Verify(secret, p.body, p.sig) || !strings.HasPrefix(p.sig, "sha256=") {
		t.Fatalf("signature %q does not verify", p.sig)
	}
	if webhook.Verify("wrong secret", p.body, p.sig) {
		t.Fatal("signature verifies with a wrong secret")
	}
	if p.attempt != "1" || p.d.Attempt != 1 || p.delivery == "" || p.delivery != p.d.Id || p.eventHdr != string(api.MessageCreated) {
		t.Fatalf("headers attempt=%q delivery=%q event=%q, body %+v", p.attempt, p.delivery, p.eventHdr, p.d)
	}
	// The counters and quota of the batch follow.
	r.waitFor(t, "counters and quota", func(ps []post) bool {
		return countType(ps, api.MailboxCounters) >= 1 && countType(ps, api.UserQuota) >= 1
	})
}

// TestRetryAfter500: a 500 is retried with attempt 2 and the same delivery
// id; after MaxAttempts the event is given up and the next one delivered.
func TestRetryAfter500(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, func(p post, n int) int {
		if strings.Contains(string(p.body), "always-fail") || (p.d.Event.Type == api.MessageCreated && p.attempt == "1") {
			return 500
		}
		return 200
	})
	f.hook(t, r.srv.URL, string(api.MessageCreated))
	f.start(t, &webhook.Local{}, webhook.Options{MaxAttempts: 3})
	m := f.append(t, "retry me")
	ps := r.waitFor(t, "second attempt", func(ps []post) bool { return len(ps) >= 2 })
	if ps[0].attempt != "1" || ps[1].attempt != "2" || ps[1].d.Attempt != 2 || ps[0].delivery != ps[1].delivery ||
		*ps[1].d.Event.Message != m.ID || !webhook.Verify(secret, ps[1].body, ps[1].sig) {
		t.Fatalf("retry: %s", describe(ps))
	}

	// A receiver that always fails gets exactly MaxAttempts tries.
	r.mu.Lock()
	r.answer = func(post, int) int { return 503 }
	r.mu.Unlock()
	f.append(t, "doomed")
	ps = r.waitFor(t, "three attempts", func(ps []post) bool { return len(ps) >= 5 })
	r.mu.Lock()
	r.answer = func(post, int) int { return 200 }
	r.mu.Unlock()
	last := f.append(t, "after the doomed one")
	ps = r.waitFor(t, "the next event", func(ps []post) bool {
		return len(ps) > 0 && ps[len(ps)-1].d.Event.Message != nil && *ps[len(ps)-1].d.Event.Message == last.ID
	})
	doomed := ps[2].delivery
	n := 0
	for _, p := range ps {
		if p.delivery == doomed {
			n++
		}
	}
	if n != 3 || ps[4].attempt != "3" {
		t.Fatalf("doomed delivery tried %d times, want 3: %s", n, describe(ps))
	}
	for _, p := range ps {
		if p.d.Event.Type != api.MessageCreated {
			t.Fatalf("filter on message.created let %s through", p.d.Event.Type)
		}
	}
}

// TestJunkAndResume: a move into Junk is delivered as message.moved then
// message.junk (filter), out of Junk as message.notjunk; a dispatcher
// restarted later resumes from the stored cursor without duplicates.
func TestJunkAndResume(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	junk, err := f.svc.Store.FindSpecialUse(ctx, f.user, store.SpecialJunk)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, nil)
	f.hook(t, r.srv.URL, string(api.MessageJunk), string(api.MessageNotjunk))
	stop := f.start(t, &webhook.Local{}, webhook.Options{})
	m := f.append(t, "spam")
	if _, err := f.svc.Move(ctx, f.user, f.box, store.UIDSet{{Start: m.UID, Stop: m.UID}}, junk.ID); err != nil {
		t.Fatal(err)
	}
	ps := r.waitFor(t, "message.junk", func(ps []post) bool { return len(ps) >= 1 })
	if p := ps[0].d.Event; p.Type != api.MessageJunk || *p.Message != m.ID || *p.Mailbox != junk.ID || *p.SourceMailbox != f.box {
		t.Fatalf("junk delivery %+v", p)
	}
	// Stop once the delivery is recorded (a dispatcher stopped before that
	// delivers it again, by design: at least once).
	w := f.hookID(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		seq, ok, err := f.st.WebhookCursor(ctx, w, f.user)
		if err != nil {
			t.Fatal(err)
		}
		if ok && seq >= ps[0].d.Event.Cursor {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d (stored %v) never reached %d", seq, ok, ps[0].d.Event.Cursor)
		}
		time.Sleep(5 * time.Millisecond) // polling the store with a deadline
	}
	stop()

	// While no dispatcher runs: the message goes back to INBOX.
	if _, err := f.svc.Move(ctx, f.user, junk.ID, store.UIDSet{{Start: 1, Stop: 1}}, f.box); err != nil {
		t.Fatal(err)
	}
	f.start(t, &webhook.Local{}, webhook.Options{})
	ps = r.waitFor(t, "message.notjunk", func(ps []post) bool { return len(ps) >= 2 })
	if p := ps[1].d.Event; p.Type != api.MessageNotjunk || *p.Message != m.ID || *p.Mailbox != f.box {
		t.Fatalf("notjunk delivery %+v", p)
	}
	if ps[0].delivery == ps[1].delivery {
		t.Fatal("resume delivered the junk event again")
	}
	// Nothing else arrives: the resumed dispatcher did not replay.
	f.append(t, "marker")
	if _, err := f.svc.Move(ctx, f.user, f.box, store.UIDSet{{Start: m.UID + 1, Stop: ^uint32(0)}}, junk.ID); err != nil {
		t.Fatal(err)
	}
	ps = r.waitFor(t, "marker junk", func(ps []post) bool { return len(ps) >= 3 })
	if len(ps) != 3 || countType(ps, api.MessageJunk) != 2 {
		t.Fatalf("after resume: %s", describe(ps))
	}
}

// TestOnceAcrossInstances: two dispatchers over one store, with leases in
// the real Redis (two connections, as two instances), deliver each event
// once per webhook.
func TestOnceAcrossInstances(t *testing.T) {
	c1, c2 := clustertest.Two(t, "webhook")
	f := newFixture(t)
	r := newReceiver(t, nil)
	f.hook(t, r.srv.URL, string(api.MessageCreated))
	f.start(t, c1, webhook.Options{})
	f.start(t, c2, webhook.Options{})
	const n = 20
	for i := range n {
		f.append(t, "m"+strconv.Itoa(i))
	}
	ps := r.waitFor(t, "20 deliveries", func(ps []post) bool { return len(ps) >= n })
	// Let a duplicate, if any, arrive: one more append is delivered after
	// every earlier one (events of one user are delivered in order).
	last := f.append(t, "last")
	ps = r.waitFor(t, "the last one", func(ps []post) bool {
		return len(ps) > 0 && *ps[len(ps)-1].d.Event.Message == last.ID
	})
	seen := map[string]int{}
	for _, p := range ps {
		seen[p.delivery]++
	}
	if len(ps) != n+1 || len(seen) != n+1 {
		t.Fatalf("%d posts for %d distinct deliveries, want %d each: %s", len(ps), len(seen), n+1, describe(ps))
	}
}
