package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/eidermail/eider/mail/store"
	sqlite "modernc.org/sqlite"
)

// Search translates c into one SQL query over the mailbox.
//
// BODY and TEXT terms of 3+ characters are answered by the FTS5 trigram
// index (case-insensitive substring match); shorter terms, which trigram
// cannot index, are matched by eider_contains on the FTS content of the
// mailbox's messages only. HEADER uses the trigram index to pick candidate
// messages, then eider_header checks the named field. Dates compare
// calendar days in UTC.
func (s *Store) Search(ctx context.Context, userID, mailboxID string, c *store.Criteria) ([]uint32, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	if c == nil {
		c = &store.Criteria{}
	}
	var b condBuilder
	cond, err := b.criteria(c, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	q := `SELECT m.uid FROM messages m WHERE m.mbx = ? AND ` + cond + ` ORDER BY m.uid`
	rows, err := s.r.QueryContext(ctx, q, append([]any{mbx}, b.args...)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var uid uint32
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		out = append(out, uid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	return out, nil
}

// maxCriteriaDepth bounds NOT/OR nesting.
const maxCriteriaDepth = 64

type condBuilder struct {
	args []any
}

func (b *condBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "?"
}

// criteria renders c as a boolean SQL expression on messages m that is
// never NULL.
func (b *condBuilder) criteria(c *store.Criteria, depth int) (string, error) {
	if depth > maxCriteriaDepth {
		return "", fmt.Errorf("criteria nested too deep: %w", store.ErrInvalidInput)
	}
	var parts []string
	if len(c.UID) > 0 {
		parts = append(parts, b.uidSet(c.UID))
	}
	for _, f := range c.Flag {
		parts = append(parts, b.flag(f, true))
	}
	for _, f := range c.NotFlag {
		parts = append(parts, b.flag(f, false))
	}
	for _, h := range c.Header {
		parts = append(parts, b.header(h))
	}
	for _, t := range c.Body {
		parts = append(parts, b.fullText(t, true))
	}
	for _, t := range c.Text {
		parts = append(parts, b.fullText(t, false))
	}
	parts = b.dates(parts, "m.internal_date", c.Before, c.On, c.Since)
	parts = b.dates(parts, "m.sent_date", c.SentBefore, c.SentOn, c.SentSince)
	if c.Larger > 0 {
		parts = append(parts, "m.size > "+b.arg(c.Larger))
	}
	if c.Smaller > 0 {
		parts = append(parts, "m.size < "+b.arg(c.Smaller))
	}
	if c.ModSeq > 0 {
		parts = append(parts, "m.modseq >= "+b.arg(int64(c.ModSeq)))
	}
	for i := range c.Not {
		sub, err := b.criteria(&c.Not[i], depth+1)
		if err != nil {
			return "", err
		}
		parts = append(parts, "NOT "+sub)
	}
	for i := range c.Or {
		l, err := b.criteria(&c.Or[i][0], depth+1)
		if err != nil {
			return "", err
		}
		r, err := b.criteria(&c.Or[i][1], depth+1)
		if err != nil {
			return "", err
		}
		parts = append(parts, "("+l+" OR "+r+")")
	}
	if len(parts) == 0 {
		return "1", nil
	}
	return "(" + strings.Join(parts, " AND ") + ")", nil
}

func (b *condBuilder) uidSet(set store.UIDSet) string {
	if len(set) <= 64 {
		w, a := uidSetSQL("m.uid", set)
		b.args = append(b.args, a...)
		return "(" + w + ")"
	}
	rs := make([][2]int64, 0, len(set))
	for _, r := range set {
		stop := int64(r.Stop)
		if stop == 0 {
			stop = 0xFFFFFFFF
		}
		rs = append(rs, [2]int64{int64(r.Start), stop})
	}
	j, _ := json.Marshal(rs)
	return "EXISTS (SELECT 1 FROM json_each(" + b.arg(string(j)) + ") r WHERE m.uid BETWEEN r.value->>0 AND r.value->>1)"
}

func (b *condBuilder) flag(f string, set bool) string {
	not := ""
	if !set {
		not = "NOT "
	}
	if sf, ok := systemFlags[strings.ToLower(f)]; ok {
		return fmt.Sprintf("(%s(m.sys & %d != 0))", not, sf.bit)
	}
	if strings.HasPrefix(f, `\`) || strings.ContainsAny(f, " ") || f == "" {
		// Never stored (e.g. \Recent, which is session state).
		if set {
			return "0"
		}
		return "1"
	}
	return "(" + not + "instr(' ' || lower(m.flags) || ' ', " + b.arg(" "+strings.ToLower(f)+" ") + ") > 0)"
}

// ftsPhrase quotes a term as an FTS5 string.
func ftsPhrase(t string) string {
	return `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
}

// trigramOK reports whether the trigram index can answer a substring
// query for t (3+ characters).
func trigramOK(t string) bool { return utf8.RuneCountInString(t) >= 3 }

func (b *condBuilder) fullText(t string, bodyOnly bool) string {
	if t == "" {
		return "1"
	}
	if trigramOK(t) {
		q := ftsPhrase(t)
		if bodyOnly {
			q = "body : " + q
		}
		return "(m.mno IN (SELECT rowid FROM fts WHERE fts MATCH " + b.arg(q) + "))"
	}
	if bodyOnly {
		return "EXISTS (SELECT 1 FROM fts WHERE fts.rowid = m.mno AND eider_contains(fts.body, " + b.arg(t) + "))"
	}
	a := b.arg(t)
	return "EXISTS (SELECT 1 FROM fts WHERE fts.rowid = m.mno AND (eider_contains(fts.headers, " + a +
		") OR eider_contains(fts.body, " + b.arg(t) + ")))"
}

func (b *condBuilder) header(h store.Header) string {
	if trigramOK(h.Value) {
		return "(m.mno IN (SELECT rowid FROM fts WHERE fts MATCH " + b.arg("headers : "+ftsPhrase(h.Value)) +
			" AND eider_header(headers, " + b.arg(h.Key) + ", " + b.arg(h.Value) + ")))"
	}
	return "EXISTS (SELECT 1 FROM fts WHERE fts.rowid = m.mno AND eider_header(fts.headers, " +
		b.arg(h.Key) + ", " + b.arg(h.Value) + "))"
}

// day returns the start of the calendar day of t (its Y-M-D) in UTC.
func day(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).UnixNano()
}

const dayNanos = int64(24 * time.Hour)

func (b *condBuilder) dates(parts []string, col string, before, on, since time.Time) []string {
	if !before.IsZero() {
		parts = append(parts, "("+col+" IS NOT NULL AND "+col+" < "+b.arg(day(before))+")")
	}
	if !on.IsZero() {
		d := day(on)
		parts = append(parts, "("+col+" IS NOT NULL AND "+col+" >= "+b.arg(d)+" AND "+col+" < "+b.arg(d+dayNanos)+")")
	}
	if !since.IsZero() {
		parts = append(parts, "("+col+" IS NOT NULL AND "+col+" >= "+b.arg(day(since))+")")
	}
	return parts
}

// --- SQL functions ---

// containsFold reports whether needle occurs in hay, ignoring case.
// Folding is per character (simple lowercase mapping, no ß -> ss), the
// same kind the FTS5 trigram tokenizer applies, so short and long terms
// agree.
func containsFold(hay, needle string) bool {
	if needle == "" {
		return true
	}
	if isASCII(needle) && isASCII(hay) {
		return indexASCIIFold(hay, needle)
	}
	return strings.Contains(lowerRunes(hay), lowerRunes(needle))
}

func lowerRunes(s string) string {
	return strings.Map(unicode.ToLower, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func indexASCIIFold(hay, needle string) bool {
	n := len(needle)
	first := lowerASCII(needle[0])
	for i := 0; i+n <= len(hay); i++ {
		if lowerASCII(hay[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(hay[i+j]) == lowerASCII(needle[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func textArg(v driver.Value) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

// sqlContains is eider_contains(text, term).
func sqlContains(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	return int64(b2i(containsFold(textArg(args[0]), textArg(args[1])))), nil
}

// sqlHeader is eider_header(headers, key, value): whether a "Key: value"
// line of headers has the key (case-insensitive) and contains value.
func sqlHeader(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	hs, key, val := textArg(args[0]), textArg(args[1]), textArg(args[2])
	for hs != "" {
		line, rest, _ := strings.Cut(hs, "\n")
		hs = rest
		k, v, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(k, key) && containsFold(v, val) {
			return int64(1), nil
		}
	}
	return int64(0), nil
}
