package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eidermail/eider/mail/store"
	sqlite "modernc.org/sqlite"
)

// Search translates c into one SQL query over the mailbox.
//
// BODY, TEXT and HEADER strings are case-insensitive substring matches
// (RFC 3501 §6.4.4), answered through the word index (see fullText): a
// string is expanded, through the trigram index over the word list, into
// the indexed words that contain its pieces. Dates compare calendar days
// in UTC. The expansion and the query read one snapshot (one read
// transaction), so a message committed meanwhile is either wholly in or
// wholly out. A search for a single string in a large mailbox maps the
// index's hits to UIDs in Go instead (search_mno.go).
func (s *Store) Search(ctx context.Context, userID, mailboxID string, c *store.Criteria) ([]uint32, error) {
	mbx, _, err := mailboxNo(ctx, s.r, userID, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	if c == nil {
		c = &store.Criteria{}
	}
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	defer tx.Rollback()
	b := condBuilder{ctx: ctx, tx: tx, maxExpand: s.maxExpand}
	cond, err := b.criteria(c, 0)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	}
	if subs := b.subs; len(subs) == 1 && onlyOneString(c) {
		uids, ok, err := s.searchMapped(ctx, tx, mbx, mailboxID, subs[0])
		if err != nil {
			return nil, fmt.Errorf("sqlite: search: %w", err)
		}
		if ok {
			return uids, nil
		}
	}
	from := "messages m"
	if few, err := b.fewHits(mbx); err != nil {
		return nil, fmt.Errorf("sqlite: search: %w", err)
	} else if few {
		// Look the full-text hits up one by one in the narrow (mno, mbx,
		// uid) index instead of scanning the whole mailbox and probing the
		// hit list for each message.
		from = "messages m INDEXED BY messages_mno"
	}
	q := `SELECT m.uid FROM ` + from + ` WHERE m.mbx = ? AND ` + cond + ` ORDER BY m.uid`
	rows, err := tx.QueryContext(ctx, q, append([]any{mbx}, b.args...)...)
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
	// ctx and tx read the word list (expansions); maxExpand caps the
	// words one piece of a search string may expand to.
	ctx       context.Context
	tx        *sql.Tx
	maxExpand int
	// probes are the FTS5 queries of full-text conditions that every hit
	// must satisfy (top-level AND), for Search's choice of plan; top says
	// whether the condition being built is at the top level.
	probes []ftsPlan
	top    bool
	// subs are the subqueries of the top-level "m.mno IN (...)"
	// conditions (search_mno.go).
	subs []soleSub
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
	// fullText and header record probes at the top level only; the Not and
	// Or recursion below resets b.top, so it is set here, before them.
	b.top = depth == 0
	for _, h := range c.Header {
		p, err := b.header(h)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	for _, t := range c.Body {
		p, err := b.fullText(t, true)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	for _, t := range c.Text {
		p, err := b.fullText(t, false)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
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
// Folding is per character with the full-text index's own folding
// (foldRune: unicode61's simple one-to-one mapping, no ß -> ss), so a
// string checked here and one answered by the index alone agree.
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
	return strings.Map(foldRune, s)
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
