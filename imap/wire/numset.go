package wire

import (
	"iter"
	"slices"
	"strconv"
	"strings"
)

// Star stands for "*" (the largest number in use) in a NumRange bound.
// It is 0 because 0 is never a valid message number or UID.
const Star uint32 = 0

// NumRange is one element of a sequence set: Start:Stop, or a single number
// when Start == Stop. Either bound may be Star. Bounds are kept as sent:
// "7:3" is the same range as "3:7" (RFC 3501 §9 seq-range).
type NumRange struct {
	Start, Stop uint32
}

// NumSet is a "sequence-set" (RFC 3501 §9), for message sequence numbers or
// UIDs alike, or the saved search result "$" (RFC 5182 §2.1).
//
// Invariant: either Saved is true and Ranges is empty, or Ranges is
// non-empty. No bound is 0 except Star.
type NumSet struct {
	Ranges []NumRange
	Saved  bool // "$": the result saved by SEARCH RETURN (SAVE)
}

// ParseNumSet parses a sequence set such as "1:*,3,5:7" or "$".
// It rejects 0, empty elements and anything else malformed.
func ParseNumSet(s string) (NumSet, error) {
	if s == "$" {
		return NumSet{Saved: true}, nil
	}
	if s == "" {
		return NumSet{}, errorf("empty sequence set")
	}
	var set NumSet
	for elem := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(elem, ":")
		start, err := parseSeqNumber(a)
		if err != nil {
			return NumSet{}, err
		}
		stop := start
		if isRange {
			if stop, err = parseSeqNumber(b); err != nil {
				return NumSet{}, err
			}
		}
		set.Ranges = append(set.Ranges, NumRange{start, stop})
	}
	return set, nil
}

// parseSeqNumber parses "seq-number" = nz-number / "*".
func parseSeqNumber(s string) (uint32, error) {
	if s == "*" {
		return Star, nil
	}
	if s == "" {
		return 0, errorf("invalid sequence set")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errorf("invalid sequence set")
		}
	}
	v, ok := parseUint([]byte(s), 1<<32-1)
	if !ok {
		return 0, errorf("sequence number out of range")
	}
	if v == 0 {
		return 0, errorf("0 is not a valid message number")
	}
	return uint32(v), nil
}

// numSet reads a sequence-set token from the command line.
func (r *Reader) numSet() (NumSet, error) {
	i := r.pos
	for i < len(r.line) {
		c := r.line[i]
		if c >= '0' && c <= '9' || c == ':' || c == ',' || c == '*' || c == '$' {
			i++
			continue
		}
		break
	}
	if i == r.pos {
		return NumSet{}, r.errExpected("sequence set")
	}
	s, err := ParseNumSet(string(r.line[r.pos:i]))
	if err != nil {
		return NumSet{}, err
	}
	r.pos = i
	return s, nil
}

// String formats the set in IMAP syntax.
func (s NumSet) String() string {
	if s.Saved {
		return "$"
	}
	var b strings.Builder
	for i, rg := range s.Ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fmtSeqNumber(rg.Start))
		if rg.Stop != rg.Start {
			b.WriteByte(':')
			b.WriteString(fmtSeqNumber(rg.Stop))
		}
	}
	return b.String()
}

func fmtSeqNumber(n uint32) string {
	if n == Star {
		return "*"
	}
	return strconv.FormatUint(uint64(n), 10)
}

// IsEmpty reports whether the set has no ranges and is not "$".
func (s NumSet) IsEmpty() bool { return !s.Saved && len(s.Ranges) == 0 }

// Dynamic reports whether the set uses "*", i.e. depends on the mailbox.
func (s NumSet) Dynamic() bool {
	for _, rg := range s.Ranges {
		if rg.Start == Star || rg.Stop == Star {
			return true
		}
	}
	return false
}

// Resolve replaces "*" with max (the highest sequence number, or the highest
// UID, in use) and returns the ranges ordered (Start <= Stop), sorted and
// merged. As RFC 3501 §9 requires, "559:*" with max 500 yields 500:559.
// With max == 0 (empty mailbox) "*" alone yields nothing and "n:*" yields
// 1:n; callers intersect the result with the messages that exist. The
// saved set "$" cannot be resolved here: the session substitutes its saved
// result first; Resolve returns nil for it.
func (s NumSet) Resolve(max uint32) []NumRange {
	if s.Saved {
		return nil
	}
	out := make([]NumRange, 0, len(s.Ranges))
	for _, rg := range s.Ranges {
		a, b := rg.Start, rg.Stop
		if a == Star {
			a = max
		}
		if b == Star {
			b = max
		}
		if a > b {
			a, b = b, a
		}
		if a == 0 {
			if b == 0 {
				continue
			}
			a = 1
		}
		out = append(out, NumRange{a, b})
	}
	slices.SortFunc(out, func(x, y NumRange) int {
		if x.Start != y.Start {
			if x.Start < y.Start {
				return -1
			}
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, rg := range out {
		if n := len(merged); n > 0 && uint64(rg.Start) <= uint64(merged[n-1].Stop)+1 {
			if rg.Stop > merged[n-1].Stop {
				merged[n-1].Stop = rg.Stop
			}
			continue
		}
		merged = append(merged, rg)
	}
	return merged
}

// Contains reports whether n is in the set once "*" stands for max.
func (s NumSet) Contains(n, max uint32) bool {
	for _, rg := range s.Resolve(max) {
		if n >= rg.Start && n <= rg.Stop {
			return true
		}
	}
	return false
}

// All iterates, in increasing order and without duplicates, over the numbers
// of the set with "*" standing for max. Ranges may be huge (1:4294967295):
// callers iterating UIDs should rather walk their own UID list and use
// Contains or Resolve.
func (s NumSet) All(max uint32) iter.Seq[uint32] {
	ranges := s.Resolve(max)
	return func(yield func(uint32) bool) {
		for _, rg := range ranges {
			for n := uint64(rg.Start); n <= uint64(rg.Stop); n++ {
				if !yield(uint32(n)) {
					return
				}
			}
		}
	}
}

// NumSetOf builds a compact set (ranges merged) from numbers, for responses
// such as COPYUID, VANISHED and ESEARCH ALL. The order of nums is kept as
// far as runs of consecutive numbers go: COPYUID pairs source and
// destination sets element by element (RFC 4315 §3), so the caller must pass
// both lists in corresponding order.
func NumSetOf(nums ...uint32) NumSet {
	var s NumSet
	for _, n := range nums {
		if k := len(s.Ranges); k > 0 && s.Ranges[k-1].Stop != Star && uint64(s.Ranges[k-1].Stop)+1 == uint64(n) {
			s.Ranges[k-1].Stop = n
			continue
		}
		s.Ranges = append(s.Ranges, NumRange{n, n})
	}
	return s
}
