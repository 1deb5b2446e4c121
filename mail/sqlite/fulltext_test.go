package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
)

// textMessage is a message with the given subject and body text.
func textMessage(i int, subject, body string) *store.NewMessage {
	raw := "Subject: " + subject + "\r\n\r\n" + body
	return &store.NewMessage{
		InternalDate: time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC),
		Size:         int64(len(raw)),
		Segments:     []blob.Segment{{Inline: []byte(raw), Size: int64(len(raw))}},
		Subject:      subject,
		Headers:      []store.Header{{Key: "Subject", Value: subject}},
		Text:         body,
	}
}

// searchCorpus is text with mixed case, cuts inside words, punctuation and
// non-ASCII words, drawn from a small pool so that substrings recur.
func searchCorpus(rnd *rand.Rand, n int) []string {
	pool := []string{"Budget", "budgets", "REVIEW", "preview", "quarterly", "Hauptstraße", "STRASSE", "grüße",
		"Jürgen", "ёлка", "ЁЛКИ", "французских", "東京で会いましょう", "東京", "naïve", "NAÏVE", "e\u0301te\u0301",
		"x", "42", "4.2", "re:", "a-b", "AND", "OR", "NOT", "NEAR", "\"quoted\"", "*", "ſtar", "İstanbul", "ΣΟΦΊΑ", "σοφία"}
	seps := []string{" ", "  ", ", ", ". ", "; ", "\r\n", "-", "/", "'"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for w := 3 + rnd.Intn(12); w > 0; w-- {
			b.WriteString(pool[rnd.Intn(len(pool))])
			b.WriteString(seps[rnd.Intn(len(seps))])
		}
		out[i] = b.String()
	}
	return out
}

// randomTerm is a search string: a random cut of one of texts, its case
// changed at random, or a short string.
func randomTerm(rnd *rand.Rand, texts []string) string {
	if rnd.Intn(8) == 0 {
		return []string{"e", "E", "ё", "ß", "東", "ss", "42", ".", " ", "re", "xq", "ı"}[rnd.Intn(12)]
	}
	r := []rune(texts[rnd.Intn(len(texts))])
	i := rnd.Intn(len(r))
	j := min(len(r), i+1+rnd.Intn(24))
	t := string(r[i:j])
	switch rnd.Intn(3) {
	case 0:
		t = strings.ToUpper(t)
	case 1:
		t = strings.ToLower(t)
	}
	return t
}

// TestSearchMatchesScan compares index-answered searches with a plain
// case-folded substring scan of the same texts, with the default expansion
// cap and with a cap small enough that most pieces fall back to the scan;
// with every message indexed, with none (the background indexer paused:
// every message is found in the indexer's queue) and with half of them.
func TestSearchMatchesScan(t *testing.T) {
	ctx := context.Background()
	rnd := rand.New(rand.NewSource(7))
	subjects, bodies := searchCorpus(rnd, 40), searchCorpus(rnd, 40)
	msgs := make([]*store.NewMessage, len(bodies))
	for i := range msgs {
		msgs[i] = textMessage(i, subjects[i], bodies[i])
	}
	for _, tc := range []struct {
		maxExpand, others int
		queued            string // indexed: "none", "all", "half"
		// mapped: hits are mapped to UIDs in Go (search_mno.go), which
		// otherwise only mailboxes of mnoMapMin messages are.
		mapped bool
		// bags: which messages are indexed as word sets (fts_bag):
		// "" none (the default threshold), "all", "half" (the longer
		// texts).
		bags string
	}{{0, 0, "none", false, ""}, {2, 0, "none", false, ""}, {0, 4, "none", false, ""}, {0, 0, "all", false, ""}, {2, 0, "all", false, ""},
		{0, 4, "half", false, ""}, {2, 0, "half", false, ""},
		{0, 0, "none", true, ""}, {2, 4, "none", true, ""}, {0, 0, "all", true, ""}, {0, 4, "half", true, ""},
		{0, 0, "none", false, "all"}, {2, 4, "none", true, "all"}, {0, 4, "half", false, "half"}, {0, 0, "none", true, "half"}} {
		maxExpand := tc.maxExpand
		bagMin := 0
		switch tc.bags {
		case "all":
			bagMin = 1
		case "half":
			sizes := make([]int, len(msgs))
			for i, m := range msgs {
				d := newFTSDoc(m)
				sizes[i] = len(d.headers) + len(d.body)
			}
			slices.Sort(sizes)
			bagMin = sizes[len(sizes)/2]
		}
		// With copies in other mailboxes, the searched one holds under a
		// quarter of the store: Search then counts hits to choose its plan
		// (fewHits), and hits elsewhere must not leak in.
		t.Run(fmt.Sprintf("MaxWordExpansion=%d,others=%d,queued=%s,mapped=%v,bags=%s", maxExpand, tc.others, tc.queued, tc.mapped, tc.bags), func(t *testing.T) {
			dir := t.TempDir()
			bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
			s, err := Open(ctx, Config{Path: filepath.Join(dir, "e.db"), MaxWordExpansion: maxExpand, IndexBagMin: bagMin}, bs)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.mapped {
				s.mnos.minTotal = 1
			} else {
				s.mnos.minTotal = math.MaxInt64
			}
			u, _ := s.CreateUser(ctx, store.NewUser{Username: "scan"})
			mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
			for i := range tc.others {
				other, err := s.CreateMailbox(ctx, u.ID, fmt.Sprintf("other%d", i), "")
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range msgs {
					if _, err := s.Append(ctx, u.ID, other.ID, m); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.queued != "none" {
				s.pauseIndexer()
			}
			if tc.queued == "half" {
				indexNow(t, s) // the other mailboxes
			}
			for i, m := range msgs {
				if _, err := s.Append(ctx, u.ID, mb.ID, m); err != nil {
					t.Fatal(err)
				}
				if tc.queued == "half" && i == len(msgs)/2 {
					indexNow(t, s)
				}
			}
			switch n, err := s.IndexQueue(ctx); {
			case err != nil:
				t.Fatal(err)
			case tc.queued == "none":
				indexNow(t, s)
			case tc.queued == "all" && n != int64(len(msgs)*(1+tc.others)):
				t.Fatalf("%d messages queued, want all %d", n, len(msgs)*(1+tc.others))
			case tc.queued == "half" && (n == 0 || n >= int64(len(msgs))):
				t.Fatalf("%d messages queued, want about half of %d", n, len(msgs))
			}
			all := append(append([]string(nil), subjects...), bodies...)
			rnd := rand.New(rand.NewSource(11))
			nonEmpty, terms := 0, 400
			if raceEnabled {
				terms = 100 // the race detector slows SQLite tenfold
			}
			for range terms {
				term := randomTerm(rnd, all)
				var wantBody, wantText, wantSubj []uint32
				for i, m := range msgs {
					uid := uint32(i + 1)
					if containsFold(m.Text, term) {
						wantBody = append(wantBody, uid)
					}
					if containsFold(m.Text, term) || containsFold(headerText(m), term) {
						wantText = append(wantText, uid)
					}
					// Header values are stored on one line.
					if containsFold(strings.ReplaceAll(m.Subject, "\n", " "), term) {
						wantSubj = append(wantSubj, uid)
					}
				}
				if len(wantBody) > 0 {
					nonEmpty++
				}
				for _, tc := range []struct {
					name string
					c    store.Criteria
					want []uint32
				}{
					{"BODY", store.Criteria{Body: []string{term}}, wantBody},
					{"TEXT", store.Criteria{Text: []string{term}}, wantText},
					{"SUBJECT", store.Criteria{Header: []store.Header{{Key: "Subject", Value: term}}}, wantSubj},
				} {
					got, err := s.Search(ctx, u.ID, mb.ID, &tc.c)
					if err != nil {
						t.Fatalf("%s %q: %v", tc.name, term, err)
					}
					if !slices.Equal(got, tc.want) {
						t.Fatalf("%s %q = %v, scan finds %v", tc.name, term, got, tc.want)
					}
				}
			}
			if nonEmpty < terms/2 {
				t.Fatalf("only %d of %d terms matched anything: the test exercises too little", nonEmpty, terms)
			}
			if used := s.mnos.loads+s.mnos.merges > 0; used != tc.mapped {
				t.Fatalf("hits mapped in Go: %v, want %v", used, tc.mapped)
			}
			// The word-set index was used as the case says.
			indexNow(t, s)
			bagged, plain := count(t, s, `SELECT count(*) FROM fts_bag`), count(t, s, `SELECT count(*) FROM fts`)
			if total := int64(len(msgs) * (1 + tc.others)); bagged+plain != total ||
				(tc.bags == "" && bagged != 0) || (tc.bags == "all" && plain != 0) || (tc.bags == "half" && (bagged == 0 || plain == 0)) {
				t.Fatalf("indexed as word sets %d, with positions %d, of %d messages: not what bags=%q means", bagged, plain, total, tc.bags)
			}
			if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
				t.Fatalf("consistency: %v %q", err, c.Problems)
			}
		})
	}
}

// TestWordExpansionCap checks the cap: a piece with more words than
// MaxWordExpansion is not used in the MATCH, and a negative cap is refused.
func TestWordExpansionCap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if _, err := Open(ctx, Config{Path: filepath.Join(dir, "x.db"), MaxWordExpansion: -1}, bs); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("Open(MaxWordExpansion: -1) = %v, want ErrInvalidInput", err)
	}
	s, err := Open(ctx, Config{Path: filepath.Join(dir, "e.db"), MaxWordExpansion: 3}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "cap"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	for i, body := range []string{"xalpha yalpha", "zalpha", "walpha omega"} {
		if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(i, "s", body)); err != nil {
			t.Fatal(err)
		}
	}
	indexNow(t, s) // the plans below read the word list
	plan := func(term string) ftsPlan {
		tx, err := s.r.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		b := condBuilder{ctx: ctx, tx: tx, maxExpand: s.maxExpand}
		p, err := b.plan(term, "body")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := plan("lpha"); p.match != "" || p.none { // 4 words > 3
		t.Fatalf("plan(lpha) = %+v, want the text scan", p)
	}
	if p := plan("walph"); !p.exact || p.match != `body : ("walpha")` {
		t.Fatalf("plan(walph) = %+v, want an exact MATCH of walpha", p)
	}
	if p := plan("lpha omeg"); p.exact || p.match != `body : ("omeg" *)` {
		t.Fatalf("plan(lpha omeg) = %+v, want a checked MATCH of omeg* only", p)
	}
	if p := plan("WALPHA OME"); p.exact || p.match != `body : ("walpha" + "ome" *)` {
		t.Fatalf("plan(WALPHA OME) = %+v, want a checked phrase walpha ome*", p)
	}
	if p := plan("walpha omega."); p.exact || p.match != `body : ("walpha" + "omega")` {
		t.Fatalf("plan(walpha omega.) = %+v, want a checked phrase walpha omega", p)
	}
	if p := plan("zzz"); !p.none {
		t.Fatalf("plan(zzz) = %+v, want none", p)
	}
	for term, want := range map[string][]uint32{"lpha": {1, 2, 3}, "LPHA OMEG": {3}, "ya": {1}, "a y": {1}} {
		got, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{term}})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("BODY %q = %v, %v; want %v", term, got, err, want)
		}
	}
}

// TestCheckFindsMissingWord: a word of the index missing from the word list
// (which would make it unfindable by substring) is a consistency problem.
func TestCheckFindsMissingWord(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "chk"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(1, "hello", "Zebra crossing")); err != nil {
		t.Fatal(err)
	}
	indexNow(t, s)
	c, err := s.CheckConsistency(ctx)
	if err != nil || len(c.Problems) != 0 {
		t.Fatalf("check = %+v, %v", c, err)
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM fts_words WHERE term = 'zebra'`); err != nil {
		t.Fatal(err)
	}
	c, err = s.CheckConsistency(ctx)
	if err != nil || len(c.Problems) != 1 || !strings.Contains(c.Problems[0], `"zebra"`) {
		t.Fatalf("check after losing a word = %+v, %v", c, err)
	}
}

// TestMigrateTrigramStore opens a store written with schema version 1 (the
// trigram index): migration 2 re-indexes its text, and substring searches
// find it.
func TestMigrateTrigramStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "v1.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	raw := "Subject: Grüße\r\n\r\nDie Hauptstraße ist gesperrt.\r\n"
	segs := encodeSegments([]blob.Segment{{Inline: []byte(raw), Size: int64(len(raw))}})
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users(uno, id, username, username_key, storage_used, created) VALUES (1, 'u1', 'old', 'old', ?, 0)`, []any{len(raw)}},
		{`INSERT INTO mailboxes(mbx, id, uno, name, uid_validity, uid_next, highest_modseq, created, total, unseen, size)
			VALUES (1, 'm1', 1, 'INBOX', 1, 2, 1, 0, 1, 1, ?)`, []any{len(raw)}},
		{`INSERT INTO messages(mno, id, uno, mbx, uid, modseq, internal_date, size, thread_id, subject)
			VALUES (1, 'x1', 1, 1, 1, 1, 0, ?, 't1', 'Grüße')`, []any{len(raw)}},
		{`INSERT INTO message_data(mno, segments) VALUES (1, ?)`, []any{segs}},
		{`INSERT INTO fts(rowid, headers, body) VALUES (1, 'Subject: Grüße' || char(10), 'Die Hauptstraße ist gesperrt.')`, nil},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	db.Close()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []store.Criteria{
		{Body: []string{"STRASSE"}},
		{Body: []string{"AUPTSTRAßE IST GES"}},
		{Text: []string{"grüß"}},
		{Header: []store.Header{{Key: "subject", Value: "üße"}}},
	} {
		got, err := s.Search(ctx, "u1", "m1", &c)
		want := []uint32{1}
		if c.Body != nil && c.Body[0] == "STRASSE" {
			want = nil
		}
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("search %+v after migration = %v, %v; want %v", c, got, err, want)
		}
	}
	chk, err := s.CheckConsistency(ctx)
	if err != nil || len(chk.Problems) != 0 {
		t.Fatalf("check after migration = %+v, %v", chk, err)
	}
}

// TestSearchCombiningMarks: a combining mark continues a word but never
// starts one, so a string starting with one may start inside a word.
func TestSearchCombiningMarks(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTemp(t, "")
	u, _ := s.CreateUser(ctx, store.NewUser{Username: "marks"})
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	for i, body := range []string{"e\u0301te\u0301 a\u0301", "te tea", "x \u0301te"} {
		if _, err := s.Append(ctx, u.ID, mb.ID, textMessage(i, "s", body)); err != nil {
			t.Fatal(err)
		}
	}
	for term, want := range map[string][]uint32{
		"\u0301te":        {1, 3},
		"\u0301te\u0301":  {1},
		"TE\u0301 A":      {1},
		"\u0301":          {1, 3},
		"e\u0301te\u0301": {1},
		"te":              {1, 2, 3},
		" te":             {2},
		"x \u0301t":       {3},
	} {
		got, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{term}})
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("BODY %q = %v, %v; want %v", term, got, err, want)
		}
	}
}

// indexNow indexes every message queued for the background indexer.
func indexNow(t testing.TB, s *Store) {
	t.Helper()
	if _, err := s.IndexPending(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestMigrateTextOnce: a version 8 store with one indexed message (text in
// the FTS content) and one queued (text in fts_pending) keeps both texts
// through migration 0009; both are found before and after the indexer
// rebuilds the index, and the store is consistent.
func TestMigrateTextOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "v8.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, 8); err != nil {
		t.Fatal(err)
	}
	raws := []string{"Subject: one\r\n\r\nthe indexed walrus\r\n", "Subject: two\r\n\r\nthe queued narwhal\r\n"}
	size := len(raws[0]) + len(raws[1])
	qs := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users(uno, id, username, username_key, storage_used, created) VALUES (1, 'u1', 'old', 'old', ?, 0)`, []any{size}},
		{`INSERT INTO mailboxes(mbx, id, uno, name, uid_validity, uid_next, highest_modseq, created, total, unseen, size)
			VALUES (1, 'm1', 1, 'INBOX', 1, 3, 2, 0, 2, 2, ?)`, []any{size}},
		{`INSERT INTO fts(rowid, headers, body) VALUES (1, 'Subject: one' || char(10), 'the indexed walrus')`, nil},
		{`INSERT INTO fts_words(term) VALUES ('subject'), ('one'), ('the'), ('indexed'), ('walrus')`, nil},
		{`INSERT INTO fts_pending(mno, headers, body) VALUES (2, 'Subject: two' || char(10), 'the queued narwhal')`, nil},
	}
	for i, raw := range raws {
		segs := encodeSegments([]blob.Segment{{Inline: []byte(raw), Size: int64(len(raw))}})
		qs = append(qs,
			struct {
				sql  string
				args []any
			}{`INSERT INTO messages(mno, id, uno, mbx, uid, modseq, internal_date, size, thread_id, subject)
				VALUES (?, ?, 1, 1, ?, ?, 0, ?, ?, ?)`, []any{i + 1, fmt.Sprint("x", i), i + 1, i + 1, len(raw), fmt.Sprint("t", i), fmt.Sprint("s", i)}},
			struct {
				sql  string
				args []any
			}{`INSERT INTO message_data(mno, segments) VALUES (?, ?)`, []any{i + 1, segs}})
	}
	for _, q := range qs {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	db.Close()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check := func(when string) {
		t.Helper()
		for term, want := range map[string][]uint32{"walrus": {1}, "queued narwhal": {2}, "the": {1, 2}, "subject: t": {2}} {
			got, err := s.Search(ctx, "u1", "m1", &store.Criteria{Text: []string{term}})
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s: TEXT %q = %v, %v; want %v", when, term, got, err, want)
			}
		}
		if c, err := s.CheckConsistency(ctx); err != nil || len(c.Problems) > 0 {
			t.Fatalf("%s: consistency %v %q", when, err, c.Problems)
		}
	}
	s.pauseIndexer()
	if n, err := s.IndexQueue(ctx); err != nil || n != 2 {
		t.Fatalf("after migration %d messages queued (%v), want both", n, err)
	}
	check("queued")
	indexNow(t, s)
	check("indexed")
	s.resumeIndexer()
}
