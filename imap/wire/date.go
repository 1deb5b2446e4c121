package wire

import (
	"strings"
	"time"
)

var months = [12]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

func parseMonth(s string) (time.Month, bool) {
	u := strings.ToUpper(s)
	for i, m := range months {
		if u == m {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func atoiSmall(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// validDate builds a date and checks it did not overflow (31-Feb).
func validDate(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) (time.Time, bool) {
	t := time.Date(y, m, d, hh, mm, ss, 0, loc)
	if t.Day() != d || t.Month() != m || t.Year() != y {
		return time.Time{}, false
	}
	return t, true
}

// ParseDate parses a "date-text" (RFC 3501 §9):
// date-day "-" date-month "-" date-year, as in "1-Feb-1994" or "01-feb-1994".
// The result is midnight UTC of that day; SEARCH compares dates without
// time or zone (RFC 3501 §6.4.4), so callers compare calendar days.
func ParseDate(s string) (time.Time, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) < 1 || len(parts[0]) > 2 || !allDigits(parts[0]) ||
		len(parts[2]) != 4 || !allDigits(parts[2]) {
		return time.Time{}, errorf("invalid date %q", s)
	}
	m, ok := parseMonth(parts[1])
	if !ok {
		return time.Time{}, errorf("invalid month in date %q", s)
	}
	t, ok := validDate(atoiSmall(parts[2]), m, atoiSmall(parts[0]), 0, 0, 0, time.UTC)
	if !ok {
		return time.Time{}, errorf("invalid date %q", s)
	}
	return t, nil
}

// ParseDateTime parses the contents of a "date-time" (RFC 3501 §9), without
// its quotes: date-day-fixed "-" date-month "-" date-year SP time SP zone,
// as in "17-Jul-1996 02:44:25 -0700" or " 7-Jul-1996 02:44:25 -0700".
// A one-digit day without its leading space is accepted too.
func ParseDateTime(s string) (time.Time, error) {
	bad := func() (time.Time, error) { return time.Time{}, errorf("invalid date-time %q", s) }
	if len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	date, rest, ok := strings.Cut(s, " ")
	if !ok {
		return bad()
	}
	clock, zone, ok := strings.Cut(rest, " ")
	if !ok || len(clock) != 8 || clock[2] != ':' || clock[5] != ':' ||
		!allDigits(clock[0:2]) || !allDigits(clock[3:5]) || !allDigits(clock[6:8]) {
		return bad()
	}
	if len(zone) != 5 || (zone[0] != '+' && zone[0] != '-') || !allDigits(zone[1:]) {
		return bad()
	}
	d, err := ParseDate(date)
	if err != nil {
		return bad()
	}
	hh, mm, ss := atoiSmall(clock[0:2]), atoiSmall(clock[3:5]), atoiSmall(clock[6:8])
	zh, zm := atoiSmall(zone[1:3]), atoiSmall(zone[3:5])
	if hh > 23 || mm > 59 || ss > 60 || zm > 59 {
		return bad()
	}
	off := (zh*60 + zm) * 60
	if zone[0] == '-' {
		off = -off
	}
	if ss == 60 { // leap second: clamp rather than fail
		ss = 59
	}
	loc := time.FixedZone("", off)
	t, ok := validDate(d.Year(), d.Month(), d.Day(), hh, mm, ss, loc)
	if !ok {
		return bad()
	}
	return t, nil
}

// FormatDateTime formats t as the contents of a "date-time" (RFC 3501 §9),
// without quotes: " 7-Jul-1996 02:44:25 -0700" (day space-padded).
func FormatDateTime(t time.Time) string {
	return t.Format("_2-Jan-2006 15:04:05 -0700")
}

// FormatDate formats the day of t as a "date-text": "7-Jul-1996".
func FormatDate(t time.Time) string { return t.Format("2-Jan-2006") }

// date reads a "date" (RFC 3501 §9: date-text / DQUOTE date-text DQUOTE).
func (r *Reader) date() (time.Time, error) {
	var s string
	if r.peek() == '"' {
		q, err := r.quoted()
		if err != nil {
			return time.Time{}, err
		}
		s = q
	} else {
		i := r.pos
		for i < len(r.line) && r.line[i] != ' ' && r.line[i] != ')' {
			i++
		}
		s = string(r.line[r.pos:i])
		r.pos = i
	}
	return ParseDate(s)
}

// dateTime reads a "date-time": it must be quoted.
func (r *Reader) dateTime() (time.Time, error) {
	if r.peek() != '"' {
		return time.Time{}, r.errExpected("date-time")
	}
	s, err := r.quoted()
	if err != nil {
		return time.Time{}, err
	}
	return ParseDateTime(s)
}
