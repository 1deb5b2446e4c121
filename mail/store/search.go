package store

import "time"

// UIDRange is an inclusive range of UIDs. Stop == 0 means "*" (no upper bound).
type UIDRange struct {
	Start, Stop uint32
}

// UIDSet is a union of ranges. A nil or empty UIDSet in a search means "all".
type UIDSet []UIDRange

// Contains reports whether uid is in the set.
func (s UIDSet) Contains(uid uint32) bool {
	for _, r := range s {
		if uid >= r.Start && (r.Stop == 0 || uid <= r.Stop) {
			return true
		}
	}
	return false
}

// Criteria is a search over one mailbox, covering every IMAP SEARCH key of
// RFC 3501 §6.4.4 plus MODSEQ (RFC 7162 §3.1.5). All set fields must match
// (AND). Sequence numbers are translated to UIDs by the front-end, which owns
// the session's sequence map. String matches are case-insensitive substring
// matches (RFC 3501), on decoded UTF-8 text.
type Criteria struct {
	// UID restricts to these UIDs (nil = no restriction).
	UID UIDSet
	// Flag: each listed flag must be set; NotFlag: each must be unset.
	Flag    []string
	NotFlag []string

	// Header: each field must contain the value; an empty value matches any
	// message that has the field. Key is case-insensitive. FROM/TO/CC/BCC/SUBJECT
	// are expressed as Header entries.
	Header []Header
	// Body: each string must occur in the body text.
	Body []string
	// Text: each string must occur in the headers or the body.
	Text []string

	// Internal date comparisons, by date only (RFC 3501: disregarding time and
	// timezone). Zero = unset. Before is "earlier than", Since is "on or after".
	Before, On, Since time.Time
	// Same for the Date: header.
	SentBefore, SentOn, SentSince time.Time

	// Larger/Smaller compare RFC822.SIZE; 0 = unset. Larger means size > n,
	// Smaller means size < n.
	Larger, Smaller int64

	// ModSeq, if non-zero, matches messages with MODSEQ >= ModSeq.
	ModSeq uint64

	// Not: each sub-criteria must NOT match. Or: for each pair, at least one
	// side must match.
	Not []Criteria
	Or  [][2]Criteria
}
