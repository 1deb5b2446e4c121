package sqlite

import (
	"bytes"
	"database/sql"
	"flag"
	"fmt"
	"go/format"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var updateTable = flag.Bool("update-unicode61", false, "regenerate unicode61_table.go from the bundled SQLite")

// unicode61Ref is a reference tokenizer: a real SQLite FTS5 table with the
// index's tokenizer, read back through fts5vocab.
type unicode61Ref struct {
	db  *sql.DB
	doc int64
}

func newUnicode61Ref(t testing.TB) *unicode61Ref {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+t.TempDir()+"/ref.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE VIRTUAL TABLE ref USING fts5(x, tokenize = 'unicode61 remove_diacritics 0')`,
		`CREATE VIRTUAL TABLE ref_inst USING fts5vocab(ref, instance)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return &unicode61Ref{db: db}
}

// tokens returns the words SQLite indexes for each of docs, in order.
func (r *unicode61Ref) tokens(t testing.TB, docs []string) [][]string {
	t.Helper()
	tx, err := r.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	first := r.doc + 1
	for _, d := range docs {
		r.doc++
		if _, err := tx.Exec(`INSERT INTO ref(rowid, x) VALUES (?, ?)`, r.doc, d); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(`SELECT doc, term FROM ref_inst WHERE doc >= ? ORDER BY doc, offset`, first)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make([][]string, len(docs))
	for rows.Next() {
		var doc int64
		var term string
		if err := rows.Scan(&doc, &term); err != nil {
			t.Fatal(err)
		}
		out[doc-first] = append(out[doc-first], term)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Keep the reference index small: fts5vocab scans all of it.
	if _, err := tx.Exec(`DELETE FROM ref`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sqliteClasses asks SQLite how it tokenizes every code point: whether it
// continues a word, whether it can start one, and what it folds to. Each
// code point c is written twice: as "q c q", which gives one token
// "q<fold(c)>q" if c continues a word and two tokens "q" "q" if not; and as
// " c q", which gives one token "<fold(c)>q" if c starts a word and "q"
// if not (unicode61 lets combining marks continue a word, never start one).
func sqliteClasses(t *testing.T) (sep, marks []rune, fold map[rune]rune) {
	ref := newUnicode61Ref(t)
	var cps []rune
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if !utf8.ValidRune(c) {
			continue // surrogates: not valid UTF-8, never stored
		}
		if raceEnabled && c > 0x3000 && c%61 != 0 {
			continue // a sample under -race; every code point without it
		}
		cps = append(cps, c)
	}
	const chunk = 8192
	fold = map[rune]rune{}
	for i := 0; i < len(cps); i += chunk {
		part := cps[i:min(i+chunk, len(cps))]
		var mid, start strings.Builder
		for _, c := range part {
			mid.WriteByte('q')
			mid.WriteRune(c)
			mid.WriteString("q ")
			start.WriteByte(' ')
			start.WriteRune(c)
			start.WriteByte('q')
		}
		toks := ref.tokens(t, []string{mid.String(), start.String()})
		j, k := 0, 0
		for _, c := range part {
			if toks[0][j] == "q" {
				sep = append(sep, c)
				j += 2
			} else {
				r := []rune(toks[0][j])
				if len(r) != 3 || r[0] != 'q' || r[2] != 'q' {
					t.Fatalf("code point %U: token %q", c, toks[0][j])
				}
				if r[1] != c {
					fold[c] = r[1]
				}
				j++
			}
			if toks[1][k] == "q" {
				if toks[0][j-1] != "q" { // continues a word but cannot start one
					marks = append(marks, c)
				}
			}
			k++
		}
	}
	return sep, marks, fold
}

// TestUnicode61Table checks, for every code point, that the Go tokenizer
// classifies and folds it as the bundled SQLite's unicode61 tokenizer does.
// With -update-unicode61 it regenerates the table instead.
func TestUnicode61Table(t *testing.T) {
	sep, marks, fold := sqliteClasses(t)
	if *updateTable {
		if raceEnabled {
			t.Fatal("regenerate without -race: under it only a sample of code points is read")
		}
		writeUnicode61Table(t, sep, marks, fold)
		return
	}
	isSep, isMark := map[rune]bool{}, map[rune]bool{}
	for _, c := range sep {
		isSep[c] = true
	}
	for _, c := range marks {
		isMark[c] = true
	}
	bad := 0
	for c := rune(0); c <= unicode.MaxRune && bad < 20; c++ {
		if !utf8.ValidRune(c) || raceEnabled && c > 0x3000 && c%61 != 0 {
			continue
		}
		if isWordRune(c) == isSep[c] {
			t.Errorf("%U: Go word rune %v, SQLite separator %v", c, isWordRune(c), isSep[c])
			bad++
			continue
		}
		if isWordStart(c) != (!isSep[c] && !isMark[c]) {
			t.Errorf("%U: Go word start %v, SQLite separator %v mark %v", c, isWordStart(c), isSep[c], isMark[c])
			bad++
			continue
		}
		if !isSep[c] && (foldRune(foldRune(c)) != foldRune(c) || !isWordRune(foldRune(c))) {
			t.Errorf("%U: folding to %U is not stable", c, foldRune(c))
			bad++
		}
		want, ok := fold[c]
		if !ok {
			want = c
		}
		if !isSep[c] && foldRune(c) != want {
			t.Errorf("%U: Go folds to %U, SQLite to %U", c, foldRune(c), want)
			bad++
		}
	}
}

func writeUnicode61Table(t *testing.T, sep, marks []rune, fold map[rune]rune) {
	var b bytes.Buffer
	b.WriteString("// Code generated by TestUnicode61Table -update-unicode61; DO NOT EDIT.\n\n")
	b.WriteString("package sqlite\n\nimport \"unicode\"\n\n")
	b.WriteString("// unicode61Separators are the code points that SQLite's FTS5 unicode61\n")
	b.WriteString("// tokenizer (remove_diacritics 0, bundled with modernc.org/sqlite) treats\n")
	b.WriteString("// as separators; every other code point is part of a word.\n")
	b.WriteString("var unicode61Separators = " + rangeTable(sep) + "\n\n")
	b.WriteString("// unicode61Marks are the code points that continue a word but cannot\n")
	b.WriteString("// start one (combining marks): at a word's start they are separators.\n")
	b.WriteString("var unicode61Marks = " + rangeTable(marks) + "\n\n")
	b.WriteString("// unicode61Fold maps each word code point that unicode61 folds to its\n")
	b.WriteString("// folded form; code points not listed fold to themselves.\n")
	b.WriteString("var unicode61Fold = map[rune]rune{\n")
	keys := make([]rune, 0, len(fold))
	for c := range fold {
		keys = append(keys, c)
	}
	slices.Sort(keys)
	for _, c := range keys {
		fmt.Fprintf(&b, "0x%X: 0x%X,\n", c, fold[c])
	}
	b.WriteString("}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("unicode61_table.go", src, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rangeTable renders the sorted code points cps as a unicode.RangeTable
// literal.
func rangeTable(cps []rune) string {
	var r16, r32 []string
	latin := 0
	for i := 0; i < len(cps); {
		j := i
		for j+1 < len(cps) && cps[j+1] == cps[j]+1 {
			j++
		}
		lo, hi := cps[i], cps[j]
		switch {
		case hi <= 0xFFFF:
			r16 = append(r16, fmt.Sprintf("{0x%04X, 0x%04X, 1},", lo, hi))
			if hi <= unicode.MaxLatin1 {
				latin++
			}
		case lo > 0xFFFF:
			r32 = append(r32, fmt.Sprintf("{0x%X, 0x%X, 1},", lo, hi))
		default:
			r16 = append(r16, fmt.Sprintf("{0x%04X, 0xFFFF, 1},", lo))
			r32 = append(r32, fmt.Sprintf("{0x10000, 0x%X, 1},", hi))
		}
		i = j + 1
	}
	return "&unicode.RangeTable{\nR16: []unicode.Range16{\n" + strings.Join(r16, "\n") + "\n},\n" +
		"R32: []unicode.Range32{\n" + strings.Join(r32, "\n") + "\n},\n" +
		fmt.Sprintf("LatinOffset: %d,\n}", latin)
}

// goWords is the Go tokenizer's output for s, as a list.
func goWords(s string) []string {
	var out []string
	forEachWord(s, func(w string, _, _ int) { out = append(out, w) })
	return out
}

// TestWordsAgainstSQLite compares the Go tokenizer with SQLite on
// hand-picked text.
func TestWordsAgainstSQLite(t *testing.T) {
	ref := newUnicode61Ref(t)
	docs := []string{
		"Hello, World! It's 42-ish.",
		"Grüße aus der Hauptstraße; ÉCOLE Ünïcödé",
		"Съешь же ещё этих мягких французских булок",
		"東京で会いましょう 日本語のメール",
		"e\u0301t\u00e9 (decomposed and composed)",
		"İstanbul ΣΊΣΥΦΟΣ ſtraße µ",
		"tab\there\r\nnew line\x00nul",
		"emoji 👍🏽 and ZWJ a\u200db",
		"under_score dot.ted hy-phen a/b@c.d",
		"",
		"   ",
	}
	want := ref.tokens(t, docs)
	for i, d := range docs {
		got := goWords(cleanText(d))
		if !slices.Equal(got, want[i]) {
			t.Errorf("words(%q) = %q, SQLite %q", d, got, want[i])
		}
	}
}

// FuzzWords checks the Go tokenizer against SQLite on arbitrary input
// (after cleanText, which the index applies to everything it stores).
func FuzzWords(f *testing.F) {
	for _, s := range []string{"Hello, World", "Grüße", "a\u0301b", "東京", "x\xffy", "İı", "ΣΊΣΥΦΟΣ"} {
		f.Add(s)
	}
	ref := newUnicode61Ref(f)
	f.Fuzz(func(t *testing.T, s string) {
		s = cleanText(s)
		want := ref.tokens(t, []string{s})[0]
		if got := goWords(s); !slices.Equal(got, want) {
			t.Fatalf("words(%q) = %q, SQLite %q", s, got, want)
		}
	})
}

// distinctWords is the reference for wordSet: forEachWord's words, each
// kept the first time it occurs.
func distinctWords(texts ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range texts {
		forEachWord(s, func(w string, _, _ int) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		})
	}
	return out
}

// FuzzWordSet checks wordSet against forEachWord: the same distinct words
// in the same order, over two texts added one after the other (as the
// indexer adds headers and body), and a String that FTS5 splits back into
// exactly those words.
func FuzzWordSet(f *testing.F) {
	for _, s := range []string{"Hello, World hello WORLD", "Grüße GRÜSSE grüße", "a\u0301b a\u0301b", "東京 東京", "x\xffy x\xffy", "İı İı", "ΣΊΣΥΦΟΣ σίσυφος"} {
		f.Add(s, "the other text, Hello")
	}
	ws := newWordSet()
	f.Fuzz(func(t *testing.T, a, b string) {
		a, b = cleanText(a), cleanText(b)
		ws.reset()
		ws.addText(a)
		ws.addText(b)
		var got []string
		ws.each(func(w string) { got = append(got, w) })
		want := distinctWords(a, b)
		if !slices.Equal(got, want) {
			t.Fatalf("wordSet(%q, %q) = %q, want %q", a, b, got, want)
		}
		if back := goWords(ws.String()); !slices.Equal(back, want) && !(len(back) == 0 && len(want) == 0) {
			t.Fatalf("wordSet(%q, %q).String() = %q splits into %q, want %q", a, b, ws.String(), back, want)
		}
	})
}

// TestWordSetGrows: thousands of distinct words (the table grows several
// times) with repeats, against the reference.
func TestWordSetGrows(t *testing.T) {
	g := newTextGen(5)
	text := g.text(300 << 10)
	ws := newWordSet()
	for range 2 { // the second round reuses the reset set
		ws.reset()
		ws.addText(text)
		var got []string
		ws.each(func(w string) { got = append(got, w) })
		want := distinctWords(text)
		if len(want) < 2000 || !slices.Equal(got, want) {
			t.Fatalf("wordSet: %d words, reference %d (want the same, and over 2000)", len(got), len(want))
		}
	}
}
