package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

func expectSearch(t *testing.T, h *harness, u *store.User, mb *store.Mailbox, name string, c store.Criteria, want ...uint32) {
	t.Helper()
	got := h.search(u, mb, c)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("SEARCH %s = %v, want %v", name, got, want)
	}
}

func testSearchFields(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("xia")
	mb := h.mailbox(u, "INBOX")
	h.append(u, mb, spec{Subject: "Quarterly report", From: "Ann Lee <ann@corp.example>", To: "xia@example.com",
		Body: "short", Flags: []string{store.FlagSeen}, Headers: []store.Header{{Key: "X-Mailer", Value: "Thunderbird 115"}}}) // 1
	h.append(u, mb, spec{Subject: "lunch?", From: "bob@example.com", To: "team@corp.example", Cc: "Zoë <zoe@example.com>",
		Body: strings.Repeat("z ", 1000), Flags: []string{"$Important"}}) // 2
	h.append(u, mb, spec{Subject: "Überweisung erhalten", From: "bank@example.de", To: "xia@example.com", Body: "medium body text",
		Flags: []string{store.FlagAnswered, store.FlagSeen}}) // 3
	m4 := h.append(u, mb, spec{Subject: "no from", Body: "x"}) // 4
	_ = m4

	expectSearch(t, h, u, mb, "ALL", store.Criteria{}, 1, 2, 3, 4)
	expectSearch(t, h, u, mb, "SEEN", store.Criteria{Flag: []string{store.FlagSeen}}, 1, 3)
	expectSearch(t, h, u, mb, "seen (lowercase flag)", store.Criteria{Flag: []string{`\seen`}}, 1, 3)
	expectSearch(t, h, u, mb, "UNSEEN", store.Criteria{NotFlag: []string{store.FlagSeen}}, 2, 4)
	expectSearch(t, h, u, mb, "SEEN UNANSWERED", store.Criteria{Flag: []string{store.FlagSeen}, NotFlag: []string{store.FlagAnswered}}, 1)
	expectSearch(t, h, u, mb, "KEYWORD $Important", store.Criteria{Flag: []string{"$Important"}}, 2)
	expectSearch(t, h, u, mb, "KEYWORD $important (case-insensitive)", store.Criteria{Flag: []string{"$important"}}, 2)
	expectSearch(t, h, u, mb, "UNKEYWORD $Important", store.Criteria{NotFlag: []string{"$Important"}}, 1, 3, 4)
	expectSearch(t, h, u, mb, "KEYWORD $Imp (no prefix match)", store.Criteria{Flag: []string{"$Imp"}})

	expectSearch(t, h, u, mb, "FROM ann", store.Criteria{Header: []store.Header{{Key: "From", Value: "ann"}}}, 1)
	expectSearch(t, h, u, mb, "FROM CORP.EXAMPLE", store.Criteria{Header: []store.Header{{Key: "from", Value: "CORP.EXAMPLE"}}}, 1)
	expectSearch(t, h, u, mb, "TO corp.example", store.Criteria{Header: []store.Header{{Key: "To", Value: "corp.example"}}}, 2)
	expectSearch(t, h, u, mb, "CC zoë (unicode)", store.Criteria{Header: []store.Header{{Key: "Cc", Value: "ZOË"}}}, 2)
	expectSearch(t, h, u, mb, "SUBJECT überweisung", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "überweisung"}}}, 3)
	expectSearch(t, h, u, mb, "SUBJECT report FROM ann", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "report"}, {Key: "From", Value: "ann"}}}, 1)
	expectSearch(t, h, u, mb, "SUBJECT ?", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "?"}}}, 2)
	expectSearch(t, h, u, mb, "HEADER X-Mailer thunder", store.Criteria{Header: []store.Header{{Key: "x-mailer", Value: "thunder"}}}, 1)
	expectSearch(t, h, u, mb, "HEADER X-Mailer \"\" (has field)", store.Criteria{Header: []store.Header{{Key: "X-Mailer", Value: ""}}}, 1)
	expectSearch(t, h, u, mb, "HEADER From \"\"", store.Criteria{Header: []store.Header{{Key: "From", Value: ""}}}, 1, 2, 3)
	expectSearch(t, h, u, mb, "FROM xia (only in To)", store.Criteria{Header: []store.Header{{Key: "From", Value: "xia"}}})

	ms, err := s.Fetch(ctx, u.ID, mb.ID, all(), false)
	noErr(t, "Fetch", err)
	bySize := func(keep func(int64) bool) []uint32 {
		var out []uint32
		for _, m := range ms {
			if keep(m.Size) {
				out = append(out, m.UID)
			}
		}
		return out
	}
	for _, m := range ms {
		n := m.Size
		expectSearch(t, h, u, mb, fmt.Sprintf("LARGER %d", n), store.Criteria{Larger: n}, bySize(func(x int64) bool { return x > n })...)
		expectSearch(t, h, u, mb, fmt.Sprintf("SMALLER %d", n), store.Criteria{Smaller: n}, bySize(func(x int64) bool { return x < n })...)
		expectSearch(t, h, u, mb, fmt.Sprintf("LARGER %d SMALLER %d", n-1, n+1), store.Criteria{Larger: n - 1, Smaller: n + 1},
			bySize(func(x int64) bool { return x == n })...)
	}
	if len(bySize(func(x int64) bool { return x > 2000 })) != 1 {
		t.Fatal("test setup: want exactly one large message")
	}

	res, err := s.StoreFlags(ctx, u.ID, mb.ID, set(2), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagFlagged}})
	noErr(t, "StoreFlags", err)
	expectSearch(t, h, u, mb, "MODSEQ", store.Criteria{ModSeq: res.ModSeq}, 2)
	expectSearch(t, h, u, mb, "MODSEQ (earlier)", store.Criteria{ModSeq: ms[3].ModSeq}, 2, 4)

	expectSearch(t, h, u, mb, "UID 2:3", store.Criteria{UID: store.UIDSet{{Start: 2, Stop: 3}}}, 2, 3)
	expectSearch(t, h, u, mb, "UID 3:*", store.Criteria{UID: store.UIDSet{{Start: 3}}}, 3, 4)
	expectSearch(t, h, u, mb, "UID 1,4 SEEN", store.Criteria{UID: set(1, 4), Flag: []string{store.FlagSeen}}, 1)
	var many store.UIDSet
	for i := uint32(0); i < 200; i++ {
		many = append(many, store.UIDRange{Start: 1000 + 2*i, Stop: 1000 + 2*i})
	}
	many = append(many, store.UIDRange{Start: 3, Stop: 3})
	expectSearch(t, h, u, mb, "UID with 201 ranges", store.Criteria{UID: many}, 3)
}

func testSearchDates(t *testing.T, h *harness) {
	u := h.user("yan")
	mb := h.mailbox(u, "INBOX")
	d := func(day, hour int) time.Time { return time.Date(2024, 5, day, hour, 0, 0, 0, time.UTC) }
	h.append(u, mb, spec{InternalDate: d(1, 23), Date: d(1, 8)})                                                       // 1
	h.append(u, mb, spec{InternalDate: d(2, 0), Date: time.Date(2024, 5, 2, 23, 30, 0, 0, time.FixedZone("", -7200))}) // 2: Date is 3 May 01:30 UTC
	h.append(u, mb, spec{InternalDate: d(2, 23), Date: d(2, 12)})                                                      // 3
	h.append(u, mb, spec{InternalDate: d(4, 12)})                                                                      // 4: no Date:
	on2 := time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC)
	expectSearch(t, h, u, mb, "BEFORE 2-May", store.Criteria{Before: on2}, 1)
	expectSearch(t, h, u, mb, "ON 2-May", store.Criteria{On: on2}, 2, 3)
	expectSearch(t, h, u, mb, "ON 2-May (time of day ignored)", store.Criteria{On: on2.Add(15 * time.Hour)}, 2, 3)
	expectSearch(t, h, u, mb, "SINCE 2-May", store.Criteria{Since: on2}, 2, 3, 4)
	expectSearch(t, h, u, mb, "SINCE 3-May", store.Criteria{Since: on2.AddDate(0, 0, 1)}, 4)
	expectSearch(t, h, u, mb, "SINCE 1-May BEFORE 3-May", store.Criteria{Since: on2.AddDate(0, 0, -1), Before: on2.AddDate(0, 0, 1)}, 1, 2, 3)
	expectSearch(t, h, u, mb, "SENTBEFORE 2-May", store.Criteria{SentBefore: on2}, 1)
	expectSearch(t, h, u, mb, "SENTON 2-May", store.Criteria{SentOn: on2}, 3)
	expectSearch(t, h, u, mb, "SENTON 3-May (UTC day)", store.Criteria{SentOn: on2.AddDate(0, 0, 1)}, 2)
	expectSearch(t, h, u, mb, "SENTSINCE 2-May", store.Criteria{SentSince: on2}, 2, 3)
	expectSearch(t, h, u, mb, "NOT SENTSINCE 2-May", store.Criteria{Not: []store.Criteria{{SentSince: on2}}}, 1, 4)
}

func testSearchLogic(t *testing.T, h *harness) {
	u := h.user("zed")
	mb := h.mailbox(u, "INBOX")
	h.append(u, mb, spec{Subject: "alpha", Flags: []string{store.FlagSeen}})                    // 1
	h.append(u, mb, spec{Subject: "beta", Flags: []string{store.FlagFlagged}})                  // 2
	h.append(u, mb, spec{Subject: "gamma", Flags: []string{store.FlagSeen, store.FlagFlagged}}) // 3
	h.append(u, mb, spec{Subject: "delta"})                                                     // 4
	seen := store.Criteria{Flag: []string{store.FlagSeen}}
	flagged := store.Criteria{Flag: []string{store.FlagFlagged}}
	subj := func(v string) store.Criteria {
		return store.Criteria{Header: []store.Header{{Key: "Subject", Value: v}}}
	}
	expectSearch(t, h, u, mb, "NOT SEEN", store.Criteria{Not: []store.Criteria{seen}}, 2, 4)
	expectSearch(t, h, u, mb, "NOT SEEN NOT FLAGGED", store.Criteria{Not: []store.Criteria{seen, flagged}}, 4)
	expectSearch(t, h, u, mb, "OR SEEN FLAGGED", store.Criteria{Or: [][2]store.Criteria{{seen, flagged}}}, 1, 2, 3)
	expectSearch(t, h, u, mb, "OR SUBJECT alpha SUBJECT delta", store.Criteria{Or: [][2]store.Criteria{{subj("alpha"), subj("delta")}}}, 1, 4)
	expectSearch(t, h, u, mb, "NOT (OR SEEN FLAGGED)", store.Criteria{Not: []store.Criteria{{Or: [][2]store.Criteria{{seen, flagged}}}}}, 4)
	expectSearch(t, h, u, mb, "SEEN (OR FLAGGED SUBJECT alpha)", store.Criteria{Flag: []string{store.FlagSeen},
		Or: [][2]store.Criteria{{flagged, subj("alpha")}}}, 1, 3)
	expectSearch(t, h, u, mb, "OR (NOT SEEN) (SUBJECT gamma) AND UID 1:3", store.Criteria{UID: store.UIDSet{{Start: 1, Stop: 3}},
		Or: [][2]store.Criteria{{{Not: []store.Criteria{seen}}, subj("gamma")}}}, 2, 3)
	expectSearch(t, h, u, mb, "two ORs", store.Criteria{Or: [][2]store.Criteria{{seen, subj("delta")}, {flagged, subj("delta")}}}, 3, 4)
	expectSearch(t, h, u, mb, "NOT NOT SEEN", store.Criteria{Not: []store.Criteria{{Not: []store.Criteria{seen}}}}, 1, 3)
	expectSearch(t, h, u, mb, "NOT ALL", store.Criteria{Not: []store.Criteria{{}}})
}

func testSearchFullText(t *testing.T, h *harness) {
	u := h.user("ftx")
	mb := h.mailbox(u, "INBOX")
	h.append(u, mb, spec{Subject: "Meeting notes", Body: "The quarterly Budget review is on Thursday."})       // 1
	h.append(u, mb, spec{Subject: "Привет", Body: "Съешь же ещё этих мягких французских булок, да выпей чаю"}) // 2
	h.append(u, mb, spec{Subject: "Straße", Body: "Wir treffen uns in der Hauptstraße 5. Grüße, Jürgen"})      // 3
	h.append(u, mb, spec{Subject: "budget", Body: "nothing to see; 42 is the answer; say \"hi\" to zq"})       // 4
	h.append(u, mb, spec{Subject: "日本語のメール", Body: "東京で会いましょう"})                                               // 5
	other := h.mailbox(u, "Other")
	h.append(u, other, spec{Subject: "budget elsewhere", Body: "quarterly budget"})

	expectSearch(t, h, u, mb, "BODY budget", store.Criteria{Body: []string{"budget"}}, 1)
	expectSearch(t, h, u, mb, "TEXT budget (subject counts)", store.Criteria{Text: []string{"budget"}}, 1, 4)
	expectSearch(t, h, u, mb, "BODY BUDGET REVIEW (case, spaces)", store.Criteria{Body: []string{"BUDGET REVIEW"}}, 1)
	expectSearch(t, h, u, mb, "BODY udge (inside a word)", store.Criteria{Body: []string{"udge"}}, 1)
	expectSearch(t, h, u, mb, "BODY quarterly thursday (AND)", store.Criteria{Body: []string{"quarterly", "thursday"}}, 1)
	expectSearch(t, h, u, mb, "BODY quarterly friday", store.Criteria{Body: []string{"quarterly", "friday"}})
	expectSearch(t, h, u, mb, "BODY ФРАНЦУЗСКИХ (Cyrillic case)", store.Criteria{Body: []string{"ФРАНЦУЗСКИХ"}}, 2)
	expectSearch(t, h, u, mb, "TEXT привет (subject)", store.Criteria{Text: []string{"привет"}}, 2)
	expectSearch(t, h, u, mb, "BODY привет (not in body)", store.Criteria{Body: []string{"привет"}})
	expectSearch(t, h, u, mb, "BODY hauptstraße", store.Criteria{Body: []string{"HAUPTSTRAßE"}}, 3)
	expectSearch(t, h, u, mb, "BODY grüße", store.Criteria{Body: []string{"grüße"}}, 3)
	expectSearch(t, h, u, mb, "BODY 東京 (2 CJK chars)", store.Criteria{Body: []string{"東京"}}, 5)
	expectSearch(t, h, u, mb, "TEXT メール", store.Criteria{Text: []string{"メール"}}, 5)
	expectSearch(t, h, u, mb, "BODY zq (2 chars)", store.Criteria{Body: []string{"zq"}}, 4)
	expectSearch(t, h, u, mb, "BODY ZQ (2 chars, case)", store.Criteria{Body: []string{"ZQ"}}, 4)
	expectSearch(t, h, u, mb, "BODY 42", store.Criteria{Body: []string{"42"}}, 4)
	expectSearch(t, h, u, mb, "BODY ё (1 char)", store.Criteria{Body: []string{"Ё"}}, 2)
	expectSearch(t, h, u, mb, "TEXT ß (1 char)", store.Criteria{Text: []string{"ß"}}, 3)
	expectSearch(t, h, u, mb, "BODY \"hi\" (quotes)", store.Criteria{Body: []string{`"hi"`}}, 4)
	expectSearch(t, h, u, mb, "BODY see; (punctuation)", store.Criteria{Body: []string{"see; 42"}}, 4)
	expectSearch(t, h, u, mb, "BODY ( AND ) chars", store.Criteria{Body: []string{"a AND b OR NOT c*"}})
	// Substrings are substrings (RFC 3501 §6.4.4), whatever words they cut.
	expectSearch(t, h, u, mb, "BODY udget revi (phrase cut inside words)", store.Criteria{Body: []string{"udget revi"}}, 1)
	expectSearch(t, h, u, mb, "BODY GET REVIEW IS ON THURS (case, cuts)", store.Criteria{Body: []string{"GET REVIEW IS ON THURS"}}, 1)
	expectSearch(t, h, u, mb, "BODY thursday. (trailing punctuation)", store.Criteria{Body: []string{"thursday."}}, 1)
	expectSearch(t, h, u, mb, "BODY thursday.x (no such text)", store.Criteria{Body: []string{"thursday.x"}})
	expectSearch(t, h, u, mb, "BODY quarterly review (words present, not adjacent)", store.Criteria{Body: []string{"quarterly review"}})
	expectSearch(t, h, u, mb, "BODY the budget (words present, not adjacent)", store.Criteria{Body: []string{"the budget"}})
	expectSearch(t, h, u, mb, "BODY budget  review (two spaces)", store.Criteria{Body: []string{"budget  review"}})
	expectSearch(t, h, u, mb, "BODY arterl (inside, 6 chars)", store.Criteria{Body: []string{"arterl"}}, 1)
	expectSearch(t, h, u, mb, "BODY UR (2 chars inside a word)", store.Criteria{Body: []string{"UR"}}, 1)
	expectSearch(t, h, u, mb, "BODY E (1 char)", store.Criteria{Body: []string{"E"}}, 1, 3, 4)
	expectSearch(t, h, u, mb, "BODY 5. (word then period)", store.Criteria{Body: []string{"5."}}, 3)
	expectSearch(t, h, u, mb, "BODY ; (separator only)", store.Criteria{Body: []string{";"}}, 4)
	expectSearch(t, h, u, mb, "BODY РАНЦУЗСК (Cyrillic, inside, case)", store.Criteria{Body: []string{"РАНЦУЗСК"}}, 2)
	expectSearch(t, h, u, mb, "BODY их булок, д (Cyrillic phrase)", store.Criteria{Body: []string{"их булок, д"}}, 2)
	expectSearch(t, h, u, mb, "BODY üße (inside a word)", store.Criteria{Body: []string{"üße"}}, 3)
	expectSearch(t, h, u, mb, "BODY ßE, JÜR (non-ASCII phrase, case)", store.Criteria{Body: []string{"ßE, JÜR"}}, 3)
	expectSearch(t, h, u, mb, "BODY ÜSSE (ß is not ss)", store.Criteria{Body: []string{"ÜSSE"}})
	expectSearch(t, h, u, mb, "BODY 京で (2 CJK chars inside)", store.Criteria{Body: []string{"京で"}}, 5)
	expectSearch(t, h, u, mb, "TEXT 本語 (inside a CJK subject)", store.Criteria{Text: []string{"本語"}}, 5)
	expectSearch(t, h, u, mb, "SUBJECT ETING NOT (header phrase cut inside words)", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "ETING NOT"}}}, 1)
	expectSearch(t, h, u, mb, "SUBJECT ривe (Latin e, no match)", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "ривe"}}})
	expectSearch(t, h, u, mb, "SUBJECT udge (only subject field)", store.Criteria{Header: []store.Header{{Key: "Subject", Value: "udge"}}}, 4)
	expectSearch(t, h, u, mb, "NOT BODY budget", store.Criteria{Not: []store.Criteria{{Body: []string{"budget"}}}}, 2, 3, 4, 5)
	expectSearch(t, h, u, mb, "OR BODY zq BODY булок", store.Criteria{Or: [][2]store.Criteria{{{Body: []string{"zq"}}, {Body: []string{"булок"}}}}}, 2, 4)
	expectSearch(t, h, u, mb, "TEXT + flag", store.Criteria{Text: []string{"budget"}, NotFlag: []string{store.FlagSeen}, UID: set(4)}, 4)
	// Expunged and moved messages leave the index of this mailbox.
	_, err := h.s.Move(h.ctx, u.ID, mb.ID, set(1), other.ID)
	noErr(t, "Move", err)
	expectSearch(t, h, u, mb, "BODY budget after move", store.Criteria{Body: []string{"budget"}})
	expectSearch(t, h, u, other, "BODY budget in target", store.Criteria{Body: []string{"budget"}}, 1, 2)
	_, err = h.s.Delete(h.ctx, u.ID, mb.ID, set(4))
	noErr(t, "Delete", err)
	expectSearch(t, h, u, mb, "TEXT budget after delete", store.Criteria{Text: []string{"budget"}})
	_, err = h.s.Copy(h.ctx, u.ID, mb.ID, set(2), other.ID)
	noErr(t, "Copy", err)
	expectSearch(t, h, u, other, "BODY булок in copy", store.Criteria{Body: []string{"булок"}}, 3)
}
