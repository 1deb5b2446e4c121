// Command api measures the REST API under concurrent clients: message list
// (first pages and the pages after them, following nextCursor) and message
// get (parsed, random messages) on one mailbox of n messages, with c
// concurrent clients for d each. It prints requests/s, p50/p99 latency and
// the process memory. The store is kept in -dir, so a second run reuses
// the filled mailbox.
//
//	go run ./bench/api -dir /tmp/eider-apibench -n 100000 -c 50 -d 10s
//
// Server and clients share the process (and its CPUs): the figures are
// for the whole round trip over loopback HTTP on this machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/sqlite"
	"github.com/eidermail/eider/server"
)

var profile *os.File

func main() {
	dir := flag.String("dir", filepath.Join(os.TempDir(), "eider-apibench"), "store directory (kept between runs)")
	n := flag.Int("n", 100000, "messages in the mailbox")
	conc := flag.Int("c", 50, "concurrent clients")
	d := flag.Duration("d", 10*time.Second, "duration of each phase")
	prof := flag.String("cpuprofile", "", "write a CPU profile of the measured phases to this file")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "api bench:", err)
			os.Exit(1)
		}
		profile = f
	}
	if err := run(*dir, *n, *conc, *d); err != nil {
		fmt.Fprintln(os.Stderr, "api bench:", err)
		os.Exit(1)
	}
}

func run(dir string, n, conc int, d time.Duration) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	blobs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "eider.db"), Sync: "normal"}, blobs)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := &mail.Service{Store: st, Blobs: blobs, Bus: bus.NewLocal(), Limits: mimetree.DefaultLimits(), Password: password.Fast, Log: log}

	u, err := st.FindUser(ctx, "bench")
	if err != nil {
		if u, err = svc.CreateUser(ctx, "bench", "bench", "bench@example.com", 0); err != nil {
			return err
		}
	}
	inbox, err := st.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		return err
	}
	if err := fill(ctx, svc, u.ID, inbox.ID, n); err != nil {
		return err
	}
	refs, err := st.ListRefs(ctx, u.ID, inbox.ID)
	if err != nil {
		return err
	}

	h, err := server.New(svc, server.Options{Log: log, DataDir: dir})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	tok, err := login(client, base)
	if err != nil {
		return err
	}
	if profile != nil {
		pprof.StartCPUProfile(profile)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("mailbox: %d messages; %d clients, %s per phase, GOMAXPROCS %d\n", len(refs), conc, d, runtime.GOMAXPROCS(0))

	listURL := base + "/users/me/mailboxes/" + inbox.ID + "/messages?limit=20"
	phase("list", conc, d, func(r *rand.Rand, state *string) error {
		url := listURL
		if *state != "" {
			url += "&cursor=" + *state
		}
		var page struct{ NextCursor string }
		if err := getJSON(client, tok, url, &page); err != nil {
			return err
		}
		*state = page.NextCursor
		if r.IntN(50) == 0 { // back to the top now and then
			*state = ""
		}
		return nil
	})
	msgURL := base + "/users/me/mailboxes/" + inbox.ID + "/messages/"
	phase("get", conc, d, func(r *rand.Rand, _ *string) error {
		return getJSON(client, tok, msgURL+refs[r.IntN(len(refs))].ID, nil)
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("memory: heap in use %.1f MiB, Go sys %.1f MiB, peak RSS %s\n",
		float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20), peakRSS())
	return nil
}

// fill appends ~4 KB messages until the mailbox holds n, 8 at a time (the
// store group-commits concurrent appends).
func fill(ctx context.Context, svc *mail.Service, userID, mailboxID string, n int) error {
	c, err := svc.Store.Counters(ctx, userID, mailboxID)
	if err != nil {
		return err
	}
	todo := n - int(c.Total)
	if todo <= 0 {
		return nil
	}
	fmt.Printf("filling: %d messages\n", todo)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	words := strings.Fields("the quick brown fox jumps over a lazy dog while invoices meetings reports travel lunch budget")
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				i := next.Add(1)
				if i > int64(todo) {
					return
				}
				var b strings.Builder
				fmt.Fprintf(&b, "From: Sender %d <s%d@example.com>\r\nTo: bench@example.com\r\nSubject: message %d about %s\r\n", i%97, i%97, i, words[r.IntN(len(words))])
				fmt.Fprintf(&b, "Message-ID: <%d.bench@example.com>\r\nDate: %s\r\n\r\n", i, time.Unix(1700000000+i*60, 0).UTC().Format(time.RFC1123Z))
				for b.Len() < 4096 {
					b.WriteString(words[r.IntN(len(words))])
					b.WriteByte(' ')
					if r.IntN(12) == 0 {
						b.WriteString("\r\n")
					}
				}
				b.WriteString("\r\n")
				if _, err := svc.Append(ctx, userID, mailboxID, strings.NewReader(b.String()), nil, time.Time{}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	fmt.Printf("filled in %s (%.0f appends/s)\n", time.Since(start).Round(time.Second), float64(todo)/time.Since(start).Seconds())
	return nil
}

// phase runs conc workers calling op for d and prints the figures.
func phase(name string, conc int, d time.Duration, op func(*rand.Rand, *string) error) {
	var mu sync.Mutex
	var all []time.Duration
	var failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			var lat []time.Duration
			state := ""
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := op(r, &state); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(all)
	q := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(p*float64(len(all)-1))].Round(10 * time.Microsecond)
	}
	fmt.Printf("%-5s %6d requests, %7.0f req/s, p50 %s, p99 %s, max %s, errors %d\n",
		name, len(all), float64(len(all))/el.Seconds(), q(0.50), q(0.99), q(1), failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("      first error: %v\n", e)
	}
}

func login(c *http.Client, base string) (string, error) {
	resp, err := c.Post(base+"/authenticate", "application/json", strings.NewReader(`{"username":"bench","password":"bench"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Token == "" {
		return "", fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	return a.Token, nil
}

func getJSON(c *http.Client, tok, url string, v any) error {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}
