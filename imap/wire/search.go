package wire

import (
	"strings"
	"time"
)

// SearchOp is the kind of a SearchKey node.
type SearchOp int

// The search key operators. RFC 3501 §6.4.4 keys are mapped onto this
// smaller set: SEEN is Flag(\Seen), UNSEEN is Not(Flag(\Seen)), NEW is
// And(Flag(\Recent), Not(Flag(\Seen))), OLD is Not(Flag(\Recent)),
// KEYWORD k is Flag(k), FROM/TO/CC/BCC/SUBJECT x are Header(field, x).
const (
	SearchAll        SearchOp = iota // every message
	SearchAnd                        // all Children match (a search program, a parenthesised group)
	SearchOr                         // Children[0] or Children[1]
	SearchNot                        // Children[0] does not match
	SearchSeqSet                     // sequence number in Set ("$" possible)
	SearchUID                        // UID in Set ("$" possible)
	SearchFlag                       // flag Flag is set (system flags canonical)
	SearchHeader                     // header Field contains Value ("" matches any message with the field)
	SearchBody                       // body contains Value
	SearchText                       // header or body contains Value
	SearchBefore                     // internal date < Date (calendar days)
	SearchOn                         // internal date on Date
	SearchSince                      // internal date >= Date
	SearchSentBefore                 // Date: header < Date
	SearchSentOn                     // Date: header on Date
	SearchSentSince                  // Date: header >= Date
	SearchLarger                     // RFC822.SIZE > Size
	SearchSmaller                    // RFC822.SIZE < Size
	SearchModSeq                     // mod-sequence >= ModSeq (RFC 7162 §3.1.5)
	SearchOlder                      // internal date older than Seconds (RFC 5032)
	SearchYounger                    // internal date younger than Seconds (RFC 5032)
)

// SearchKey is a node of a parsed search program.
type SearchKey struct {
	Op       SearchOp
	Children []*SearchKey // And: 1 or more; Or: 2; Not: 1

	Set   NumSet    // SeqSet, UID
	Flag  string    // Flag
	Field string    // Header: field name as sent (FROM etc. give "From" ...)
	Value string    // Header, Body, Text
	Date  time.Time // Before ... SentSince: midnight UTC of the day
	Size  uint32    // Larger, Smaller
	// ModSeq: the value, and the optional entry (RFC 7162 §3.1.5):
	// EntryName is like "/flags/\Seen", EntryType "priv", "shared" or "all".
	ModSeq    uint64
	EntryName string
	EntryType string
	Seconds   uint32 // Older, Younger
}

// SearchReturn is an ESEARCH return option (RFC 4731 §3.1, RFC 5182 §2).
type SearchReturn string

const (
	SearchReturnMin   SearchReturn = "MIN"
	SearchReturnMax   SearchReturn = "MAX"
	SearchReturnAll   SearchReturn = "ALL"
	SearchReturnCount SearchReturn = "COUNT"
	SearchReturnSave  SearchReturn = "SAVE"
)

// SearchArgs: SEARCH / UID SEARCH (RFC 3501 §6.4.4, ESEARCH RFC 4731 §3.1).
type SearchArgs struct {
	Charset string // upper case; "" if absent
	// Return is nil without RETURN (a classic "* SEARCH" answer is due).
	// With RETURN it is non-nil; "RETURN ()" is given as [ALL]
	// (RFC 4731 §3.1).
	Return   []SearchReturn
	Criteria *SearchKey // Op == SearchAnd, one child per top-level key
}

// parseSearch: "SEARCH" [search-return-opts] SP search-program
// (RFC 4466 §2.6, RFC 4731 §3.1).
func parseSearch(r *Reader, _ *Command) (any, error) {
	a := &SearchArgs{}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peekWord("RETURN") {
		r.pos += len("RETURN")
		if err := r.sp(); err != nil {
			return nil, err
		}
		a.Return = []SearchReturn{}
		err := r.list(true, func() error {
			w, err := r.word()
			if err != nil {
				return err
			}
			switch o := SearchReturn(w); o {
			case SearchReturnMin, SearchReturnMax, SearchReturnAll, SearchReturnCount, SearchReturnSave:
				a.Return = append(a.Return, o)
				return nil
			}
			return errorf("unknown SEARCH return option %s", w)
		})
		if err != nil {
			return nil, err
		}
		if len(a.Return) == 0 {
			a.Return = []SearchReturn{SearchReturnAll}
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	if r.peekWord("CHARSET") {
		r.pos += len("CHARSET")
		if err := r.sp(); err != nil {
			return nil, err
		}
		var cs string
		var err error
		if r.peek() == '"' {
			cs, err = r.quoted()
		} else {
			cs, err = r.atom()
		}
		if err != nil {
			return nil, err
		}
		a.Charset = strings.ToUpper(cs)
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	a.Criteria = &SearchKey{Op: SearchAnd}
	for {
		k, err := r.searchKey()
		if err != nil {
			return nil, err
		}
		a.Criteria.Children = append(a.Criteria.Children, k)
		if r.eol() {
			return a, nil
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
}

// flagKeys maps the flag search keys (RFC 3501 §6.4.4) to their flag and
// whether they are negated.
var flagKeys = map[string]struct {
	flag string
	not  bool
}{
	"ANSWERED": {`\Answered`, false}, "UNANSWERED": {`\Answered`, true},
	"DELETED": {`\Deleted`, false}, "UNDELETED": {`\Deleted`, true},
	"DRAFT": {`\Draft`, false}, "UNDRAFT": {`\Draft`, true},
	"FLAGGED": {`\Flagged`, false}, "UNFLAGGED": {`\Flagged`, true},
	"SEEN": {`\Seen`, false}, "UNSEEN": {`\Seen`, true},
	"RECENT": {`\Recent`, false}, "OLD": {`\Recent`, true},
}

var headerKeys = map[string]string{
	"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc", "SUBJECT": "Subject",
}

var dateKeys = map[string]SearchOp{
	"BEFORE": SearchBefore, "ON": SearchOn, "SINCE": SearchSince,
	"SENTBEFORE": SearchSentBefore, "SENTON": SearchSentOn, "SENTSINCE": SearchSentSince,
}

func not(k *SearchKey) *SearchKey { return &SearchKey{Op: SearchNot, Children: []*SearchKey{k}} }

// searchKey parses one "search-key" (RFC 3501 §9, RFC 7162 §7 MODSEQ,
// RFC 5032 OLDER/YOUNGER, RFC 5182 "$").
func (r *Reader) searchKey() (*SearchKey, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer r.leave()
	switch c := r.peek(); {
	case c == '(':
		g := &SearchKey{Op: SearchAnd}
		err := r.list(false, func() error {
			k, err := r.searchKey()
			if err == nil {
				g.Children = append(g.Children, k)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return g, nil
	case c >= '0' && c <= '9' || c == '*' || c == '$':
		s, err := r.numSet()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: SearchSeqSet, Set: s}, nil
	}
	w, err := r.word()
	if err != nil {
		return nil, r.errExpected("search key")
	}
	if fk, ok := flagKeys[w]; ok {
		k := &SearchKey{Op: SearchFlag, Flag: fk.flag}
		if fk.not {
			k = not(k)
		}
		return k, nil
	}
	if field, ok := headerKeys[w]; ok {
		if err := r.sp(); err != nil {
			return nil, err
		}
		v, err := r.astring()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: SearchHeader, Field: field, Value: v}, nil
	}
	if op, ok := dateKeys[w]; ok {
		if err := r.sp(); err != nil {
			return nil, err
		}
		d, err := r.date()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: op, Date: d}, nil
	}
	switch w {
	case "ALL":
		return &SearchKey{Op: SearchAll}, nil
	case "NEW":
		return &SearchKey{Op: SearchAnd, Children: []*SearchKey{
			{Op: SearchFlag, Flag: `\Recent`},
			not(&SearchKey{Op: SearchFlag, Flag: `\Seen`}),
		}}, nil
	case "KEYWORD", "UNKEYWORD":
		if err := r.sp(); err != nil {
			return nil, err
		}
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		k := &SearchKey{Op: SearchFlag, Flag: f}
		if w == "UNKEYWORD" {
			k = not(k)
		}
		return k, nil
	case "BODY", "TEXT":
		if err := r.sp(); err != nil {
			return nil, err
		}
		v, err := r.astring()
		if err != nil {
			return nil, err
		}
		op := SearchBody
		if w == "TEXT" {
			op = SearchText
		}
		return &SearchKey{Op: op, Value: v}, nil
	case "HEADER":
		if err := r.sp(); err != nil {
			return nil, err
		}
		f, err := r.astring()
		if err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		v, err := r.astring()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: SearchHeader, Field: f, Value: v}, nil
	case "LARGER", "SMALLER":
		if err := r.sp(); err != nil {
			return nil, err
		}
		n, err := r.number()
		if err != nil {
			return nil, err
		}
		op := SearchLarger
		if w == "SMALLER" {
			op = SearchSmaller
		}
		return &SearchKey{Op: op, Size: n}, nil
	case "OLDER", "YOUNGER": // RFC 5032 §3
		if err := r.sp(); err != nil {
			return nil, err
		}
		n, err := r.nzNumber()
		if err != nil {
			return nil, err
		}
		op := SearchOlder
		if w == "YOUNGER" {
			op = SearchYounger
		}
		return &SearchKey{Op: op, Seconds: n}, nil
	case "UID":
		if err := r.sp(); err != nil {
			return nil, err
		}
		s, err := r.numSet()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: SearchUID, Set: s}, nil
	case "NOT":
		if err := r.sp(); err != nil {
			return nil, err
		}
		k, err := r.searchKey()
		if err != nil {
			return nil, err
		}
		return not(k), nil
	case "OR":
		if err := r.sp(); err != nil {
			return nil, err
		}
		k1, err := r.searchKey()
		if err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
		k2, err := r.searchKey()
		if err != nil {
			return nil, err
		}
		return &SearchKey{Op: SearchOr, Children: []*SearchKey{k1, k2}}, nil
	case "MODSEQ":
		return r.searchModSeq()
	}
	return nil, errorf("unknown search key %s", snippet([]byte(w)))
}

// searchModSeq: "MODSEQ" [SP entry-name SP entry-type-req] SP
// mod-sequence-valzer (RFC 7162 §7).
func (r *Reader) searchModSeq() (*SearchKey, error) {
	k := &SearchKey{Op: SearchModSeq}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '"' {
		name, err := r.quoted()
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.ToLower(name), "/flags/") || len(name) == len("/flags/") {
			return nil, errorf("invalid MODSEQ entry name")
		}
		k.EntryName = "/flags/" + CanonicalFlag(name[len("/flags/"):])
		if err := r.sp(); err != nil {
			return nil, err
		}
		t, err := r.word()
		if err != nil {
			return nil, err
		}
		switch t = strings.ToLower(t); t {
		case "priv", "shared", "all":
			k.EntryType = t
		default:
			return nil, errorf("invalid MODSEQ entry type")
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	n, err := r.number64()
	if err != nil {
		return nil, err
	}
	k.ModSeq = n
	return k, nil
}
