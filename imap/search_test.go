package imap

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// searchMsg is a test message and everything the brute-force filter needs.
type searchMsg struct {
	uid                            uint32
	raw                            string
	from, to, cc, subject, body    string
	internal, sent                 time.Time
	flags                          []string
	modseq                         uint64
	header                         string // the raw header block
	hasCc, hasListID, hasXPriority bool
}

func (m *searchMsg) has(f string) bool { return slices.Contains(m.flags, f) }

// day is noon UTC of 2024-03-d, so that date keys are unambiguous.
func day(d int) time.Time { return time.Date(2024, 3, d, 12, 0, 0, 0, time.UTC) }

// searchCorpus appends n varied messages (seeded, so reproducible) to
// alice's INBOX through mail.Service and returns them in UID order.
func searchCorpus(t *testing.T, e *testEnv, n int) []*searchMsg {
	t.Helper()
	rnd := rand.New(rand.NewPCG(7, 11))
	subjects := []string{"alpha report", "Beta meeting", "gamma notes", "Grüße aus Köln", "alphabet soup"}
	senders := []string{"Bob Smith <bob@example.org>", "carol@example.net", "Dave <dave@example.com>"}
	words := []string{"apple", "banana", "cherry", "durian", "Éclair"}
	flagPool := []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, "$Work", "$Later"}
	mb := e.mailbox(e.alice, "INBOX")
	var out []*searchMsg
	for i := 0; i < n; i++ {
		m := &searchMsg{
			from:     senders[rnd.IntN(len(senders))],
			to:       fmt.Sprintf("alice%d@example.com", rnd.IntN(3)),
			subject:  subjects[rnd.IntN(len(subjects))],
			internal: day(1 + rnd.IntN(6)),
			sent:     day(1 + rnd.IntN(6)),
		}
		var hdr strings.Builder
		fmt.Fprintf(&hdr, "From: %s\r\nTo: %s\r\n", m.from, m.to)
		if rnd.IntN(2) == 0 {
			m.cc, m.hasCc = "erin@example.org", true
			fmt.Fprintf(&hdr, "Cc: %s\r\n", m.cc)
		}
		if rnd.IntN(3) == 0 {
			m.hasListID = true
			hdr.WriteString("List-Id: <news.example.org>\r\n")
		}
		if rnd.IntN(4) == 0 {
			m.hasXPriority = true
			hdr.WriteString("X-Priority: 1\r\n")
		}
		subj := m.subject
		if strings.ContainsFunc(subj, func(r rune) bool { return r > 127 }) {
			subj = "=?UTF-8?Q?" + qEncode(subj) + "?="
		}
		fmt.Fprintf(&hdr, "Subject: %s\r\nDate: %s\r\nMessage-ID: <s%d@example.org>\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
			subj, m.sent.Format(time.RFC1123Z), i)
		var body strings.Builder
		for j := 0; j < 1+rnd.IntN(4); j++ {
			body.WriteString(words[rnd.IntN(len(words))])
			body.WriteString(" ")
		}
		body.WriteString(strings.Repeat("padding ", rnd.IntN(200)))
		body.WriteString("\r\n")
		m.header, m.body = hdr.String(), body.String()
		m.raw = m.header + m.body
		for _, f := range flagPool {
			if rnd.IntN(3) == 0 {
				m.flags = append(m.flags, f)
			}
		}
		sm, err := e.svc.Append(context.Background(), e.alice.ID, mb.ID, strings.NewReader(m.raw), m.flags, m.internal)
		if err != nil {
			t.Fatal(err)
		}
		m.uid, m.modseq = sm.UID, sm.ModSeq
		out = append(out, m)
	}
	return out
}

func qEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == '=' || c == '?' || c == '_' {
			fmt.Fprintf(&b, "=%02X", c)
		} else if c == ' ' {
			b.WriteByte('_')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func ci(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }

// searchNums parses "* SEARCH n..." out of a response.
func searchNums(t *testing.T, out []string) []uint32 {
	t.Helper()
	for _, l := range out {
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			if i := strings.Index(rest, " (MODSEQ"); i >= 0 {
				rest = rest[:i]
			}
			var nums []uint32
			for _, f := range strings.Fields(rest) {
				n, err := strconv.ParseUint(f, 10, 32)
				if err != nil {
					t.Fatalf("bad SEARCH response %q", l)
				}
				nums = append(nums, uint32(n))
			}
			return nums
		}
	}
	t.Fatalf("no SEARCH response in %q", out)
	return nil
}

// TestSearchBruteForce runs every key family of RFC 3501 §6.4.4 (and
// MODSEQ, sequence and UID sets, NOT/OR/groups) as SEARCH and UID SEARCH
// and compares each answer with a brute-force filter over the test's own
// messages.
func TestSearchBruteForce(t *testing.T) {
	e := newTestEnv(t, nil)
	msgs := searchCorpus(t, e, 40)
	// A few flag changes so that MODSEQ values differ.
	r := e.raw()
	r.login()
	r.expectOK("s0 SELECT INBOX")
	r.expectOK(`s1 UID STORE 5,9,33 +FLAGS ($Changed)`)
	var changedMod uint64
	refs, err := e.svc.Store.ListRefs(context.Background(), e.alice.ID, e.mailbox(e.alice, "INBOX").ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, ref := range refs {
		msgs[i].flags, msgs[i].modseq = ref.Flags, ref.ModSeq
		changedMod = max(changedMod, ref.ModSeq)
	}
	n := uint32(len(msgs))
	seqIn := func(lo, hi uint32) func(i int, m *searchMsg) bool {
		return func(i int, _ *searchMsg) bool { return uint32(i+1) >= lo && uint32(i+1) <= hi }
	}
	type q struct {
		key  string
		pred func(i int, m *searchMsg) bool
	}
	flagQ := func(key, flag string, want bool) q {
		return q{key, func(_ int, m *searchMsg) bool { return m.has(flag) == want }}
	}
	queries := []q{
		{"ALL", func(int, *searchMsg) bool { return true }},
		flagQ("SEEN", `\Seen`, true), flagQ("UNSEEN", `\Seen`, false),
		flagQ("ANSWERED", `\Answered`, true), flagQ("UNANSWERED", `\Answered`, false),
		flagQ("DELETED", `\Deleted`, true), flagQ("UNDELETED", `\Deleted`, false),
		flagQ("FLAGGED", `\Flagged`, true), flagQ("UNFLAGGED", `\Flagged`, false),
		flagQ("DRAFT", `\Draft`, true), flagQ("UNDRAFT", `\Draft`, false),
		flagQ("KEYWORD $Work", "$Work", true), flagQ("UNKEYWORD $Later", "$Later", false),
		flagQ("KEYWORD $Changed", "$Changed", true),
		{"RECENT", func(int, *searchMsg) bool { return false }},
		{"NEW", func(int, *searchMsg) bool { return false }},
		{"OLD", func(int, *searchMsg) bool { return true }},
		{"FROM smith", func(_ int, m *searchMsg) bool { return ci(m.from, "smith") }},
		{"FROM example.net", func(_ int, m *searchMsg) bool { return ci(m.from, "example.net") }},
		{"TO alice1", func(_ int, m *searchMsg) bool { return ci(m.to, "alice1") }},
		{"CC erin", func(_ int, m *searchMsg) bool { return ci(m.cc, "erin") }},
		{"BCC erin", func(int, *searchMsg) bool { return false }},
		{"SUBJECT ALPHA", func(_ int, m *searchMsg) bool { return ci(m.subject, "alpha") }},
		{`SUBJECT "beta meet"`, func(_ int, m *searchMsg) bool { return ci(m.subject, "beta meet") }},
		{fmt.Sprintf("CHARSET UTF-8 SUBJECT {%d}\r\n%s", len("Grüße"), "Grüße"), func(_ int, m *searchMsg) bool { return ci(m.subject, "Grüße") }},
		{`HEADER List-Id news`, func(_ int, m *searchMsg) bool { return m.hasListID }},
		{`HEADER X-Priority ""`, func(_ int, m *searchMsg) bool { return m.hasXPriority }},
		{`HEADER Message-ID s1`, func(_ int, m *searchMsg) bool { return ci(m.header, "<s1") }},
		{"BODY cherry", func(_ int, m *searchMsg) bool { return ci(m.body, "cherry") }},
		{"BODY APP", func(_ int, m *searchMsg) bool { return ci(m.body, "app") }},
		{"TEXT report", func(_ int, m *searchMsg) bool { return ci(m.raw, "report") }},
		{"TEXT banana", func(_ int, m *searchMsg) bool { return ci(m.raw, "banana") }},
		{"BEFORE 3-Mar-2024", func(_ int, m *searchMsg) bool { return m.internal.Before(day(3).Truncate(24 * time.Hour)) }},
		{"ON 4-Mar-2024", func(_ int, m *searchMsg) bool { return m.internal.Equal(day(4)) }},
		{"SINCE 5-Mar-2024", func(_ int, m *searchMsg) bool { return !m.internal.Before(day(5)) }},
		{"SENTBEFORE 2-Mar-2024", func(_ int, m *searchMsg) bool { return m.sent.Equal(day(1)) }},
		{"SENTON 6-Mar-2024", func(_ int, m *searchMsg) bool { return m.sent.Equal(day(6)) }},
		{"SENTSINCE 4-Mar-2024", func(_ int, m *searchMsg) bool { return !m.sent.Before(day(4)) }},
		{"SINCE 2-Mar-2024 BEFORE 5-Mar-2024 BEFORE 4-Mar-2024", func(_ int, m *searchMsg) bool {
			return !m.internal.Before(day(2)) && m.internal.Before(day(4).Truncate(24*time.Hour))
		}},
		{"LARGER 800", func(_ int, m *searchMsg) bool { return len(m.raw) > 800 }},
		{"SMALLER 600", func(_ int, m *searchMsg) bool { return len(m.raw) < 600 }},
		{"LARGER 500 LARGER 900", func(_ int, m *searchMsg) bool { return len(m.raw) > 900 }},
		{"SMALLER 0", func(int, *searchMsg) bool { return false }},
		{"2:5,30:*", func(i int, m *searchMsg) bool { return seqIn(2, 5)(i, m) || seqIn(30, n)(i, m) }},
		{"*", seqIn(n, n)},
		{"35:100", seqIn(35, n)},
		{"UID 3,10:12", func(_ int, m *searchMsg) bool { return m.uid == 3 || m.uid >= 10 && m.uid <= 12 }},
		{"UID 1:* 1:4", seqIn(1, 4)},
		{"UID 1000:2000", func(int, *searchMsg) bool { return false }},
		{fmt.Sprintf("MODSEQ %d", changedMod), func(_ int, m *searchMsg) bool { return m.modseq >= changedMod }},
		{`MODSEQ "/flags/\\draft" all 5`, func(_ int, m *searchMsg) bool { return m.modseq >= 5 }},
		{"NOT SEEN", func(_ int, m *searchMsg) bool { return !m.has(`\Seen`) }},
		{"NOT FROM bob", func(_ int, m *searchMsg) bool { return !ci(m.from, "bob") }},
		{"NOT 1:10", func(i int, m *searchMsg) bool { return !seqIn(1, 10)(i, m) }},
		{"OR FLAGGED SUBJECT gamma", func(_ int, m *searchMsg) bool { return m.has(`\Flagged`) || ci(m.subject, "gamma") }},
		{"OR (SEEN FROM carol) (NOT SEEN BODY durian)", func(_ int, m *searchMsg) bool {
			return m.has(`\Seen`) && ci(m.from, "carol") || !m.has(`\Seen`) && ci(m.body, "durian")
		}},
		{"NOT (OR DELETED DRAFT)", func(_ int, m *searchMsg) bool { return !m.has(`\Deleted`) && !m.has(`\Draft`) }},
		{"CHARSET US-ASCII (TO alice2 UNFLAGGED) NOT KEYWORD $Work", func(_ int, m *searchMsg) bool {
			return ci(m.to, "alice2") && !m.has(`\Flagged`) && !m.has("$Work")
		}},
		{"ALL UID 1:20 SEEN UID 10:30", func(_ int, m *searchMsg) bool { return m.uid >= 10 && m.uid <= 20 && m.has(`\Seen`) }},
		{"OR OR 1 2 3", seqIn(1, 3)},
	}
	nonEmpty := 0
	for qi, tc := range queries {
		var wantSeq, wantUID []uint32
		for i, m := range msgs {
			if tc.pred(i, m) {
				wantSeq = append(wantSeq, uint32(i+1))
				wantUID = append(wantUID, m.uid)
			}
		}
		if len(wantSeq) > 0 && len(wantSeq) < len(msgs) {
			nonEmpty++
		}
		key := tc.key
		send := func(tag, cmd string) []string {
			if head, lit, ok := strings.Cut(cmd, "{"); ok && strings.Contains(lit, "}\r\n") {
				size, rest, _ := strings.Cut(lit, "}\r\n")
				r.send(tag + " " + head + "{" + size + "}")
				if l := r.line(); !strings.HasPrefix(l, "+") {
					t.Fatalf("no continuation: %q", l)
				}
				r.send(rest)
				return r.until(tag + " ")
			}
			return r.cmd(tag + " " + cmd)
		}
		out := send(fmt.Sprintf("q%d", qi), "SEARCH "+key)
		if last := out[len(out)-1]; !strings.Contains(last, " OK ") {
			t.Errorf("SEARCH %s: %q", key, out)
			continue
		}
		if got := searchNums(t, out); !slices.Equal(got, wantSeq) {
			t.Errorf("SEARCH %s:\n got %v\nwant %v", key, got, wantSeq)
		}
		out = send(fmt.Sprintf("u%d", qi), "UID SEARCH "+key)
		if got := searchNums(t, out); !slices.Equal(got, wantUID) {
			t.Errorf("UID SEARCH %s:\n got %v\nwant %v", key, got, wantUID)
		}
		if strings.HasPrefix(key, "MODSEQ") && len(wantSeq) > 0 {
			var max uint64
			for i := range msgs {
				if tc.pred(i, msgs[i]) {
					max = maxU64(max, msgs[i].modseq)
				}
			}
			if !hasLine(out, fmt.Sprintf(" (MODSEQ %d)", max)) {
				t.Errorf("UID SEARCH %s: no (MODSEQ %d) in %q", key, max, out)
			}
		}
	}
	if nonEmpty < len(queries)/2 {
		t.Errorf("only %d of %d queries select a proper subset: the data does not exercise them", nonEmpty, len(queries))
	}
}

// TestSearchCharsetESearchSave: an unknown charset is refused with
// BADCHARSET; ESEARCH return options and SAVE ("$") work, checked against
// a plain SEARCH; go-imap's client parses the ESEARCH answer.
func TestSearchCharsetESearchSave(t *testing.T) {
	e := newTestEnv(t, nil)
	msgs := searchCorpus(t, e, 25)
	r := e.raw()
	r.login()
	r.expectOK("s0 SELECT INBOX")
	out := r.cmd("c1 SEARCH CHARSET ISO-8859-1 SUBJECT x")
	if !strings.HasPrefix(out[len(out)-1], "c1 NO [BADCHARSET (UTF-8 US-ASCII)]") {
		t.Errorf("unknown charset: %q", out)
	}
	all := searchNums(t, r.expectOK("c2 SEARCH UNSEEN"))
	if len(all) < 2 {
		t.Fatalf("too few unseen messages: %v", all)
	}
	out = r.expectOK("c3 SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
	want := fmt.Sprintf(`* ESEARCH (TAG "c3") MIN %d MAX %d COUNT %d ALL %s`, all[0], all[len(all)-1], len(all), compactSet(all))
	if out[0] != want {
		t.Errorf("ESEARCH:\n got %q\nwant %q", out[0], want)
	}
	out = r.expectOK("c4 UID SEARCH RETURN (COUNT) KEYWORD $Nothing")
	if out[0] != `* ESEARCH (TAG "c4") UID COUNT 0` {
		t.Errorf("empty ESEARCH: %q", out)
	}
	// SAVE alone: no ESEARCH response; "$" then names the result.
	out = r.expectOK("c5 SEARCH RETURN (SAVE) UNSEEN")
	if len(out) != 1 {
		t.Errorf("SAVE alone answered %q", out)
	}
	out = r.expectOK("c6 FETCH $ (UID)")
	if got := countFetch(out); got != len(all) {
		t.Errorf("FETCH $: %d responses, want %d: %q", got, len(all), out)
	}
	if got := searchNums(t, r.expectOK("c7 SEARCH $ SEEN")); len(got) != 0 {
		t.Errorf("SEARCH $ SEEN: %v", got)
	}
	// Python's imaplib: SEARCH and UID SEARCH agree with the brute force.
	var wantSeq, wantUID []string
	for i, m := range msgs {
		if !m.has(`\Seen`) && ci(m.subject, "alpha") {
			wantSeq = append(wantSeq, fmt.Sprint(i+1))
			wantUID = append(wantUID, fmt.Sprint(m.uid))
		}
	}
	py := e.python(`
M = login()
ok(M.select("INBOX"))
print("SEQ", ok(M.search(None, "UNSEEN", "SUBJECT", "alpha"))[0].decode())
print("UID", ok(M.uid("SEARCH", "CHARSET", "UTF-8", "UNSEEN", "SUBJECT", "alpha"))[0].decode())
typ, data = M.search("KOI8-R", "ALL")
assert typ == "NO" and b"BADCHARSET" in data[0], (typ, data)
`)
	if !strings.Contains(py, "SEQ "+strings.Join(wantSeq, " ")+"\n") || !strings.Contains(py, "UID "+strings.Join(wantUID, " ")+"\n") || len(wantSeq) == 0 {
		t.Errorf("python SEARCH: %q, want seqs %v uids %v", py, wantSeq, wantUID)
	}

	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, &imap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.Count != uint32(len(all)) || data.Min == 0 || data.Max < data.Min {
		t.Errorf("go-imap ESEARCH: %+v, want count %d", data, len(all))
	}
}

func countFetch(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "* ") && strings.Contains(l, " FETCH (") {
			n++
		}
	}
	return n
}

// compactSet formats ascending numbers as an IMAP set with ranges.
func compactSet(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", nums[i])
		} else {
			fmt.Fprintf(&b, "%d:%d", nums[i], nums[j])
		}
		i = j + 1
	}
	return b.String()
}
