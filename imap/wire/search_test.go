package wire

import (
	"reflect"
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	flag := func(f string) *SearchKey { return &SearchKey{Op: SearchFlag, Flag: f} }
	and := func(ks ...*SearchKey) *SearchKey { return &SearchKey{Op: SearchAnd, Children: ks} }
	or := func(a, b *SearchKey) *SearchKey { return &SearchKey{Op: SearchOr, Children: []*SearchKey{a, b}} }
	hdr := func(f, v string) *SearchKey { return &SearchKey{Op: SearchHeader, Field: f, Value: v} }
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name string
		in   string
		uid  bool
		want *SearchArgs
	}{
		{"rfc3501 example", `A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"`, false,
			&SearchArgs{Criteria: and(flag(`\Flagged`), &SearchKey{Op: SearchSince, Date: day(1994, 2, 1)},
				not(hdr("From", "Smith")))}},
		{"charset literal", "A283 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX", false,
			&SearchArgs{Charset: "UTF-8", Criteria: and(&SearchKey{Op: SearchText, Value: "XXXXXX"})}},
		{"nested or not parens (mutt)", `a UID SEARCH OR (UNSEEN FROM joe) NOT (OR DELETED KEYWORD $Junk) UID 1:*`, true,
			&SearchArgs{Criteria: and(
				or(and(not(flag(`\Seen`)), hdr("From", "joe")),
					not(and(or(flag(`\Deleted`), flag("$Junk"))))),
				&SearchKey{Op: SearchUID, Set: seq("1:*")})}},
		{"sequence sets and $", `a SEARCH 1:*,3,5:7 $ all`, false,
			&SearchArgs{Criteria: and(&SearchKey{Op: SearchSeqSet, Set: seq("1:*,3,5:7")},
				&SearchKey{Op: SearchSeqSet, Set: NumSet{Saved: true}}, &SearchKey{Op: SearchAll})}},
		{"esearch return", `a UID SEARCH RETURN (MIN COUNT save) UNDELETED`, true,
			&SearchArgs{Return: []SearchReturn{SearchReturnMin, SearchReturnCount, SearchReturnSave},
				Criteria: and(not(flag(`\Deleted`)))}},
		{"return empty means ALL", `a SEARCH RETURN () ALL`, false,
			&SearchArgs{Return: []SearchReturn{SearchReturnAll}, Criteria: and(&SearchKey{Op: SearchAll})}},
		{"header, sizes, dates quoted", `a SEARCH HEADER "Message-ID" "<x@y>" LARGER 1000 SMALLER 5000 SENTBEFORE "07-Jan-2021" ON 2-mar-2020 SENTON 1-Jan-2000 SENTSINCE 1-Jan-2000 BEFORE 1-Jan-2001`, false,
			&SearchArgs{Criteria: and(hdr("Message-ID", "<x@y>"),
				&SearchKey{Op: SearchLarger, Size: 1000}, &SearchKey{Op: SearchSmaller, Size: 5000},
				&SearchKey{Op: SearchSentBefore, Date: day(2021, 1, 7)}, &SearchKey{Op: SearchOn, Date: day(2020, 3, 2)},
				&SearchKey{Op: SearchSentOn, Date: day(2000, 1, 1)}, &SearchKey{Op: SearchSentSince, Date: day(2000, 1, 1)},
				&SearchKey{Op: SearchBefore, Date: day(2001, 1, 1)})}},
		{"flags", `a SEARCH ANSWERED UNANSWERED DRAFT UNDRAFT SEEN RECENT OLD NEW UNFLAGGED UNKEYWORD foo`, false,
			&SearchArgs{Criteria: and(flag(`\Answered`), not(flag(`\Answered`)), flag(`\Draft`), not(flag(`\Draft`)),
				flag(`\Seen`), flag(`\Recent`), not(flag(`\Recent`)),
				and(flag(`\Recent`), not(flag(`\Seen`))), not(flag(`\Flagged`)), not(flag("foo")))}},
		{"to cc bcc subject body", `a SEARCH TO a CC b BCC c SUBJECT "hello world" BODY x`, false,
			&SearchArgs{Criteria: and(hdr("To", "a"), hdr("Cc", "b"), hdr("Bcc", "c"), hdr("Subject", "hello world"),
				&SearchKey{Op: SearchBody, Value: "x"})}},
		{"modseq", `a SEARCH MODSEQ "/flags/\\draft" all 620162338`, false,
			&SearchArgs{Criteria: and(&SearchKey{Op: SearchModSeq, ModSeq: 620162338, EntryName: `/flags/\Draft`, EntryType: "all"})}},
		{"modseq plain", `a SEARCH OR NOT MODSEQ 720162338 LARGER 50000`, false,
			&SearchArgs{Criteria: and(or(not(&SearchKey{Op: SearchModSeq, ModSeq: 720162338}), &SearchKey{Op: SearchLarger, Size: 50000}))}},
		{"older younger", `a SEARCH YOUNGER 3600 OLDER 60`, false,
			&SearchArgs{Criteria: and(&SearchKey{Op: SearchYounger, Seconds: 3600}, &SearchKey{Op: SearchOlder, Seconds: 60})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := testReader(tt.in+"\r\n", Limits{})
			cmd := mustRead(t, r)
			if cmd.Name != "SEARCH" || cmd.UID != tt.uid {
				t.Fatalf("%+v", cmd)
			}
			if got := cmd.Args.(*SearchArgs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", dumpSearch(got.Criteria), dumpSearch(tt.want.Criteria))
				t.Errorf("got %+v want %+v", got, tt.want)
			}
			expectEOF(t, r)
		})
	}
}

func dumpSearch(k *SearchKey) string {
	if k == nil {
		return "<nil>"
	}
	s := "{" + itoa(int(k.Op))
	if k.Flag != "" {
		s += " " + k.Flag
	}
	if k.Field != "" || k.Value != "" {
		s += " " + k.Field + "=" + k.Value
	}
	for _, c := range k.Children {
		s += " " + dumpSearch(c)
	}
	return s + "}"
}
