// Command imap is an IMAP load generator: C concurrent clients, each logged
// in as its own user, run the same command mix against one server for a
// fixed duration and the program prints commands/s and the p50/p99 latency
// of every command. It speaks to any IMAP4rev1 server with UIDPLUS (RFC
// 4315), so the same run can be pointed at Eider and at Dovecot.
//
//	imap -addr 127.0.0.1:1143 -seed 200          # fill user1..user10's INBOX
//	imap -addr 127.0.0.1:1143 -mode open -d 10s  # sessions kept open
//	imap -addr 127.0.0.1:1143 -mode login -d 10s # full cycles with LOGIN
//
// One iteration of the mix is: [LOGIN,] SELECT INBOX, UID FETCH 1:* (FLAGS),
// UID FETCH of 3 random messages BODY.PEEK[], UID STORE toggling \Flagged on
// one random message, APPEND a 4 KB message, UID STORE +FLAGS.SILENT
// (\Deleted) on the appended message (its UID from APPENDUID), EXPUNGE
// [, LOGOUT]. The mailbox therefore keeps its size: what an iteration adds it
// removes. In mode "open" each client logs in once before the clock starts.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

type config struct {
	addr, userFmt, pass, mode, label, corpus string
	clients, seed                            int
	dur                                      time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:1143", "IMAP server address (plaintext)")
	flag.StringVar(&c.userFmt, "user", "user%d", "user name format; %d is the client number from 1")
	flag.StringVar(&c.pass, "pass", "pw", "password of every user")
	flag.StringVar(&c.mode, "mode", "open", `"open": one LOGIN per client; "login": LOGIN and LOGOUT every iteration`)
	flag.StringVar(&c.label, "label", "", "prefix of every output line")
	flag.StringVar(&c.corpus, "corpus", "/work/shared/corpus/mime", "directory of messages used by -seed")
	flag.IntVar(&c.clients, "c", 10, "concurrent clients (one user each)")
	flag.IntVar(&c.seed, "seed", 0, "if > 0: append this many messages to each user's INBOX and exit")
	flag.DurationVar(&c.dur, "d", 10*time.Second, "run duration")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	if c.seed > 0 {
		err = seed(c)
	} else {
		err = run(c, os.Stdout)
	}
	if err != nil {
		log.Error("imap bench", "err", err)
		os.Exit(1)
	}
}

// crlf turns bare LF line ends into CRLF, as IMAP literals require (RFC
// 3501 §2.2).
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// seed appends c.seed messages taken round-robin from the corpus to every
// user's INBOX, the clients working in parallel.
func seed(c config) error {
	files, err := filepath.Glob(filepath.Join(c.corpus, "*"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("seed: no messages in %s: %v", c.corpus, err)
	}
	slices.Sort(files)
	var msgs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		msgs = append(msgs, crlf(b))
	}
	errs := make([]error, c.clients)
	var wg sync.WaitGroup
	for i := range c.clients {
		wg.Go(func() {
			cl, err := dialLogin(c, i)
			if err != nil {
				errs[i] = err
				return
			}
			defer cl.Close()
			for n := range c.seed {
				if _, err := appendMsg(cl, msgs[n%len(msgs)]); err != nil {
					errs[i] = fmt.Errorf("seed %s message %d: %w", user(c, i), n, err)
					return
				}
			}
			errs[i] = cl.Logout().Wait()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func user(c config, i int) string { return fmt.Sprintf(c.userFmt, i+1) }

func dialLogin(c config, i int) (*imapclient.Client, error) {
	cl, err := imapclient.DialInsecure(c.addr, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.addr, err)
	}
	if err := cl.Login(user(c, i), c.pass).Wait(); err != nil {
		cl.Close()
		return nil, fmt.Errorf("login %s: %w", user(c, i), err)
	}
	return cl, nil
}

func appendMsg(cl *imapclient.Client, msg []byte) (imap.UID, error) {
	a := cl.Append("INBOX", int64(len(msg)), nil)
	if _, err := a.Write(msg); err != nil {
		return 0, fmt.Errorf("append write: %w", err)
	}
	if err := a.Close(); err != nil {
		return 0, fmt.Errorf("append close: %w", err)
	}
	d, err := a.Wait()
	if err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	return d.UID, nil
}

// commands in output order.
var commands = []string{"LOGIN", "SELECT", "FETCH-FLAGS", "FETCH-BODY", "STORE", "APPEND", "EXPUNGE", "LOGOUT"}

// recorder holds one client's latencies per command; it is used by one
// goroutine only, then merged.
type recorder map[string][]time.Duration

// timed runs f and records its latency under name.
func (r recorder) timed(name string, f func() error) error {
	t := time.Now()
	err := f()
	r[name] = append(r[name], time.Since(t))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// newMessage is the 4 KB message every iteration appends.
func newMessage(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: bench <bench@bench.example>\r\nTo: user <user@bench.example>\r\n"+
		"Subject: load %d\r\nDate: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <load-%d@bench.example>\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", i, i)
	for b.Len() < 4096 {
		b.WriteString("The quick brown fox jumps over the lazy dog while the bench runs.\r\n")
	}
	return []byte(b.String())
}

// iteration runs one mix on a logged-in client with a selected-or-not
// mailbox. rng picks the random messages.
func iteration(cl *imapclient.Client, r recorder, rng *rand.Rand, msg []byte) error {
	if err := r.timed("SELECT", func() error { _, err := cl.Select("INBOX", nil).Wait(); return err }); err != nil {
		return err
	}
	var uids []imap.UID
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}} // 1:*
	if err := r.timed("FETCH-FLAGS", func() error {
		msgs, err := cl.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		for _, m := range msgs {
			uids = append(uids, m.UID)
		}
		return err
	}); err != nil {
		return err
	}
	if len(uids) == 0 {
		return errors.New("INBOX is empty: run with -seed first")
	}
	var pick imap.UIDSet
	for range 3 {
		pick.AddNum(uids[rng.IntN(len(uids))])
	}
	if err := r.timed("FETCH-BODY", func() error {
		msgs, err := cl.Fetch(pick, &imap.FetchOptions{UID: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err == nil && len(msgs) == 0 {
			return errors.New("no message returned")
		}
		for _, m := range msgs {
			if len(m.BodySection) == 0 || len(m.BodySection[0].Bytes) == 0 {
				return fmt.Errorf("UID %d: empty body", m.UID)
			}
		}
		return err
	}); err != nil {
		return err
	}
	op := imap.StoreFlagsAdd
	if rng.IntN(2) == 0 {
		op = imap.StoreFlagsDel
	}
	one := imap.UIDSetNum(uids[rng.IntN(len(uids))])
	if err := r.timed("STORE", func() error {
		return cl.Store(one, &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	}); err != nil {
		return err
	}
	var added imap.UID
	if err := r.timed("APPEND", func() (err error) { added, err = appendMsg(cl, msg); return err }); err != nil {
		return err
	}
	if added == 0 {
		return errors.New("APPEND: no APPENDUID (server without UIDPLUS?)")
	}
	if err := r.timed("STORE", func() error {
		return cl.Store(imap.UIDSetNum(added), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
			Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	}); err != nil {
		return err
	}
	return r.timed("EXPUNGE", func() error { _, err := cl.Expunge().Collect(); return err })
}

// run starts the clients, lets them work for c.dur and prints the figures.
func run(c config, out io.Writer) error {
	if c.mode != "open" && c.mode != "login" {
		return fmt.Errorf("-mode must be open or login, not %q", c.mode)
	}
	recs := make([]recorder, c.clients)
	errs := make([]error, c.clients)
	// In mode open, every client logs in before the clock starts.
	conns := make([]*imapclient.Client, c.clients)
	if c.mode == "open" {
		for i := range c.clients {
			cl, err := dialLogin(c, i)
			if err != nil {
				return err
			}
			conns[i] = cl
		}
	}
	start := time.Now()
	deadline := start.Add(c.dur)
	var wg sync.WaitGroup
	for i := range c.clients {
		recs[i] = recorder{}
		wg.Go(func() {
			r, rng := recs[i], rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			for n := 0; time.Now().Before(deadline); n++ {
				msg := newMessage(i*1_000_000 + n)
				if c.mode == "open" {
					if errs[i] = iteration(conns[i], r, rng, msg); errs[i] != nil {
						return
					}
					continue
				}
				var cl *imapclient.Client
				if errs[i] = r.timed("LOGIN", func() (err error) { cl, err = dialLogin(c, i); return err }); errs[i] != nil {
					return
				}
				errs[i] = iteration(cl, r, rng, msg)
				if errs[i] == nil {
					errs[i] = r.timed("LOGOUT", func() error { return cl.Logout().Wait() })
				}
				cl.Close()
				if errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, cl := range conns {
		if cl != nil {
			cl.Logout().Wait()
			cl.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	report(out, c, recs, elapsed)
	return nil
}

// report prints one line per command and a total line:
//
//	<label>CMD  count  rate/s  p50 ms  p99 ms
//	<label>total N commands in Ds: R cmd/s
func report(out io.Writer, c config, recs []recorder, elapsed time.Duration) {
	total := 0
	fmt.Fprintf(out, "%s%-12s %8s %9s %9s %9s\n", c.label, "command", "count", "per s", "p50 ms", "p99 ms")
	for _, name := range commands {
		var all []time.Duration
		for _, r := range recs {
			all = append(all, r[name]...)
		}
		if len(all) == 0 {
			continue
		}
		slices.Sort(all)
		total += len(all)
		fmt.Fprintf(out, "%s%-12s %8d %9.1f %9.3f %9.3f\n", c.label, name, len(all),
			float64(len(all))/elapsed.Seconds(), ms(pct(all, 50)), ms(pct(all, 99)))
	}
	fmt.Fprintf(out, "%stotal %d commands in %.1fs (%s, %d clients): %.0f cmd/s\n", c.label, total,
		elapsed.Seconds(), c.mode, c.clients, float64(total)/elapsed.Seconds())
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
