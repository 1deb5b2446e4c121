package sqlite

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/eidermail/eider/mail/store"
)

// Full-text search over the word index (schema version 2).
//
// IMAP's string searches are substring matches (RFC 3501 §6.4.4: "messages
// that contain the specified string"), but fts indexes whole words. A
// search string is therefore split into pieces by the index's own word
// splitter (words.go), and each piece is expanded into the indexed words
// it can be part of:
//
//   - a piece with text on both sides of it in the string is a whole word;
//   - the first piece, when the string starts inside a word, may be the end
//     of a longer word ("udget review" starts in "budget");
//   - the last piece, when the string ends inside a word, may be the start
//     of one;
//   - a string that is a single piece, with no separator at all, may be
//     any part of a word.
//
// Expansions read fts_words: contained pieces of 3+ characters through the
// trigram index fts_words_tri, shorter ones by scanning the word list,
// prefixes by a range of its UNIQUE index. A single-piece string matches
// the messages holding one of its words (an FTS5 MATCH), exactly. A string
// of several pieces becomes FTS5 phrases (adjacent words: one phrase per
// word of the first piece, the last piece a prefix), a superset because
// the index ignores what lies between words; the stored text is then
// checked with eider_contains. A piece that expands to more than maxExpand
// words is left out of the MATCH; when no piece is left, the stored text
// of the mailbox's messages is scanned instead.
//
// Invariant (checked by CheckConsistency): every word of fts is in
// fts_words, so an expansion never misses a word of a message. Messages
// still queued for the background indexer (fts_pending, indexer.go) are
// matched by checking their text, in every case above.

// DefaultMaxWordExpansion is the default of Config.MaxWordExpansion.
const DefaultMaxWordExpansion = 1000

// piece is one word of a search string: folded, with whether the string
// leaves it open on the left (may be a word's end) and on the right (may
// be a word's start).
type piece struct {
	word        string
	left, right bool
}

// ftsPlan is how a search string is answered.
type ftsPlan struct {
	none  bool   // no message can match (a piece is in no indexed word)
	match string // FTS5 query of fts; "" = no usable piece, scan the text
	// bag is the FTS5 query of fts_bag (word sets, no positions): match
	// with its phrases turned into ANDs of their words; "" when match is.
	bag   string
	exact bool // match and bag alone decide; otherwise check the stored text
}

// pieces splits t (cleaned) into its pieces.
func pieces(t string) []piece {
	var ps []piece
	forEachWord(t, func(w string, start, end int) {
		// The first piece is open on the left when nothing but combining
		// marks precede it: marks continue a word of the text but never
		// start one, so they are skipped at the start of a piece.
		left := len(ps) == 0 && onlyMarks(t[:start])
		ps = append(ps, piece{word: w, left: left, right: end == len(t)})
	})
	return ps
}

// onlyMarks reports whether s holds nothing but runes that continue a word
// without being able to start one.
func onlyMarks(s string) bool {
	for _, r := range s {
		if !isWordRune(r) || isWordStart(r) {
			return false
		}
	}
	return true
}

// ftsString quotes s as an FTS5 string.
func ftsString(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// plan expands t (cleaned, non-empty) for column col ("body", "headers", or
// "" for both).
func (b *condBuilder) plan(t, col string) (ftsPlan, error) {
	ps := pieces(t)
	if len(ps) == 0 {
		return ftsPlan{}, nil
	}
	filter := ""
	if col != "" {
		filter = col + " : "
	}
	exp := make([][]string, len(ps))
	over := make([]bool, len(ps))
	for i, p := range ps {
		words, ov, err := b.expand(p)
		if err != nil {
			return ftsPlan{}, err
		}
		if !ov && len(words) == 0 {
			return ftsPlan{none: true}, nil
		}
		exp[i], over[i] = words, ov
		for j, w := range words {
			exp[i][j] = ftsString(w)
		}
	}
	if len(ps) == 1 {
		if over[0] {
			return ftsPlan{}, nil
		}
		m := filter + "(" + strings.Join(exp[0], " OR ") + ")"
		return ftsPlan{
			match: m,
			bag:   m,
			// t is one word: a word containing it is a hit, except in the
			// headers column, where the word may be in another field than
			// the one asked for (eider_header decides).
			exact: ps[0].word == foldWord(t) && col != "headers",
		}, nil
	}
	// Several pieces are adjacent words of one column: the middle ones
	// whole words, the last a whole word or a word's start (a prefix
	// string), the first one of its expansions. FTS5 checks adjacency with
	// a phrase ("a" + "b" *); eider_contains then checks what lies between
	// the words.
	var core []string
	for i := 1; i < len(ps); i++ {
		switch {
		case i < len(ps)-1 || !ps[i].right:
			core = append(core, ftsString(ps[i].word))
		case !over[i]:
			core = append(core, ftsString(ps[i].word)+" *")
		}
	}
	phrase := strings.Join(core, " + ")
	// fts_bag has no positions: the same words, all required.
	var bagParts []string
	if !over[0] {
		bagParts = append(bagParts, filter+"("+strings.Join(exp[0], " OR ")+")")
	}
	if len(core) > 0 {
		bagParts = append(bagParts, filter+"("+strings.Join(core, " AND ")+")")
	}
	bag := strings.Join(bagParts, " AND ")
	var match string
	switch {
	case !over[0] && len(exp[0]) <= maxPhraseBranches:
		branches := make([]string, len(exp[0]))
		for i, w := range exp[0] {
			branches[i] = w
			if phrase != "" {
				branches[i] += " + " + phrase
			}
		}
		match = filter + "(" + strings.Join(branches, " OR ") + ")"
	case !over[0] && phrase != "":
		match = filter + "(" + strings.Join(exp[0], " OR ") + ") AND " + filter + "(" + phrase + ")"
	case !over[0]:
		match = filter + "(" + strings.Join(exp[0], " OR ") + ")"
	case phrase != "":
		match = filter + "(" + phrase + ")"
	default:
		return ftsPlan{}, nil
	}
	return ftsPlan{match: match, bag: bag}, nil
}

// maxPhraseBranches bounds the phrases a string of several pieces becomes
// (one per word its first piece expands to); beyond it the first piece is
// matched on its own, alongside the phrase of the others.
const maxPhraseBranches = 32

// expand returns the indexed words piece p can be part of, or over = true
// when there are more than b.maxExpand.
func (b *condBuilder) expand(p piece) (words []string, over bool, err error) {
	limit := b.maxExpand
	if limit <= 0 {
		limit = DefaultMaxWordExpansion
	}
	var q string
	var args []any
	keep := func(string) bool { return true }
	switch {
	case !p.left && !p.right: // a whole word
		q, args = `SELECT term FROM fts_words WHERE term = ?`, []any{p.word}
	case !p.left: // a word's start: a range of the UNIQUE index
		q, args = `SELECT term FROM fts_words WHERE term >= ? AND term < ? ORDER BY term LIMIT ?`,
			[]any{p.word, p.word + "\xff", limit + 1} // 0xFF never occurs in UTF-8
	default:
		if !p.right {
			keep = func(w string) bool { return strings.HasSuffix(w, p.word) }
		} else {
			keep = func(w string) bool { return strings.Contains(w, p.word) }
		}
		if utf8.RuneCountInString(p.word) >= 3 {
			// Trigram matching is case-insensitive; both sides are folded
			// already, and keep re-checks exactly.
			q, args = `SELECT term FROM fts_words_tri WHERE fts_words_tri MATCH ?`, []any{ftsString(p.word)}
		} else {
			q, args = `SELECT term FROM fts_words WHERE instr(term, ?) > 0`, []any{p.word}
		}
	}
	rows, err := b.tx.QueryContext(b.ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("expand %q: %w", p.word, err)
	}
	defer rows.Close()
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, false, fmt.Errorf("expand %q: %w", p.word, err)
		}
		if !keep(w) {
			continue
		}
		if len(words) == limit {
			return nil, true, nil
		}
		words = append(words, w)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("expand %q: %w", p.word, err)
	}
	return words, false, nil
}

// fullText is the condition for a BODY (bodyOnly) or TEXT string.
func (b *condBuilder) fullText(t string, bodyOnly bool) (string, error) {
	if t == "" {
		return "1", nil
	}
	t = cleanText(t)
	col := ""
	if bodyOnly {
		col = "body"
	}
	p, err := b.plan(t, col)
	if err != nil {
		return "", err
	}
	check := func() string {
		if bodyOnly {
			return "eider_contains(t.body, " + b.arg(t) + ")"
		}
		return "(eider_contains(t.headers, " + b.arg(t) + ") OR eider_contains(t.body, " + b.arg(t) + "))"
	}
	return b.textCondition(p, check), nil
}

// textCondition is the condition of a full-text plan p, check being the
// condition on the stored text t (a row of fts_text) that decides a
// message. Messages not yet indexed are found by checking their text
// (indexer.go): the word list does not know their words yet, so this holds
// even when no indexed word can match. (Placeholders are numbered in
// order: b.arg and check add their arguments where they are called, left
// to right.) CROSS JOIN keeps the written order of the loops: the queue or
// the index hits outside, the text looked up by mno for each; SQLite could
// otherwise pick the text store as the outer loop and check every text.
func (b *condBuilder) textCondition(p ftsPlan, check func() string) string {
	pending := func() string {
		return "SELECT q.mno FROM fts_pending q CROSS JOIN fts_text t ON t.mno = q.mno WHERE " + check()
	}
	start := len(b.args)
	switch {
	case p.none:
		return b.in(pending(), start)
	case p.match == "":
		return "(EXISTS (SELECT 1 FROM fts_text t WHERE t.mno = m.mno AND " + check() + "))"
	case p.exact:
		b.probe(p)
		return b.in("SELECT rowid FROM fts WHERE fts MATCH "+b.arg(p.match)+
			" UNION ALL SELECT rowid FROM fts_bag WHERE fts_bag MATCH "+b.arg(p.bag)+
			" UNION ALL "+pending(), start)
	default:
		b.probe(p)
		return b.in("SELECT fts.rowid FROM fts CROSS JOIN fts_text t ON t.mno = fts.rowid WHERE fts MATCH "+b.arg(p.match)+" AND "+check()+
			" UNION ALL SELECT fts_bag.rowid FROM fts_bag CROSS JOIN fts_text t ON t.mno = fts_bag.rowid WHERE fts_bag MATCH "+b.arg(p.bag)+" AND "+check()+
			" UNION ALL "+pending(), start)
	}
}

// in returns the condition "m.mno IN (sub)", sub's arguments being
// b.args[start:], and keeps sub for Search's mapping in Go
// (search_mno.go) when the condition is at the top level.
func (b *condBuilder) in(sub string, start int) string {
	if b.top {
		b.subs = append(b.subs, soleSub{sql: sub, args: slices.Clone(b.args[start:])})
	}
	return "(m.mno IN (" + sub + "))"
}

// header is the condition for a HEADER field string (and FROM, SUBJECT...).
// The MATCH narrows on the headers column; eider_header checks the field.
func (b *condBuilder) header(h store.Header) (string, error) {
	v := cleanText(h.Value)
	var p ftsPlan
	if v != "" {
		var err error
		if p, err = b.plan(v, "headers"); err != nil {
			return "", err
		}
	}
	return b.textCondition(p, func() string {
		return "eider_header(t.headers, " + b.arg(h.Key) + ", " + b.arg(v) + ")"
	}), nil
}

// probe records match, the FTS5 query of a condition being built, when
// every hit must satisfy it (see fewHits).
func (b *condBuilder) probe(p ftsPlan) {
	if b.top {
		b.probes = append(b.probes, p)
	}
}

// fewHitsShare: a search looks up its full-text hits in the messages_mno
// index when they number under 1/fewHitsShare of the mailbox's messages,
// and otherwise scans the mailbox's (mbx, uid) index, probing the hit list
// for each message. Measured on 100,000 messages (one mailbox, idle): for
// 18% of them as hits the lookups took 36 ms and the scan 45; for 2%,
// 5 and 24 ms; for all of them, 387 and 343 ms.
const fewHitsShare = 2

// fewHits reports whether the full-text hits of the search are few enough
// next to mailbox mbx's size to be looked up one by one (see fewHitsShare).
// The hits of the probes are counted (up to the bound) only when the
// mailbox holds under a quarter of the store's messages: otherwise the
// hits (counted across all mailboxes) cannot outnumber it by much, and
// counting would cost as much as the lookups it might avoid.
func (b *condBuilder) fewHits(mbx int64) (bool, error) {
	if len(b.probes) == 0 {
		return false, nil
	}
	var total, maxMno int64
	if err := b.tx.QueryRowContext(b.ctx, `SELECT total, (SELECT COALESCE(MAX(mno), 0) FROM messages) FROM mailboxes WHERE mbx = ?`,
		mbx).Scan(&total, &maxMno); err != nil {
		return false, fmt.Errorf("mailbox size: %w", err)
	}
	if total*4 >= maxMno {
		return true, nil
	}
	bound := total / fewHitsShare
	for _, p := range b.probes {
		var n int64
		if err := b.tx.QueryRowContext(b.ctx, `SELECT count(*) FROM (SELECT rowid FROM fts WHERE fts MATCH ?
			UNION ALL SELECT rowid FROM fts_bag WHERE fts_bag MATCH ? LIMIT ?)`,
			p.match, p.bag, bound).Scan(&n); err != nil {
			return false, fmt.Errorf("count hits: %w", err)
		}
		if n < bound {
			return true, nil
		}
	}
	return false, nil
}
