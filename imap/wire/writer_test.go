package wire

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// parseBack parses enc (one encoded string) with the Reader's own lexer.
func parseBack(enc string, nstring bool) (s string, isNil bool, err error) {
	r, _ := testReader(enc+"\r\n", Limits{})
	if err := r.readLine(); err != nil {
		return "", false, err
	}
	if nstring {
		s, isNil, err = r.nstring()
	} else {
		s, err = r.astring()
	}
	if err == nil {
		err = r.end()
	}
	return s, isNil, err
}

func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "INBOX", "NIL", "nil", "a b", `say "hi"`, `back\slash`, "line\r\nbreak",
		"naïve", "日本語", "\xff\xfe", "x\x00y", "]", "(", "{3}", "*", "%", "~{1}", strings.Repeat("z", 5000)} {
		for _, utf8 := range []bool{false, true} {
			enc := QuoteString(s, utf8)
			if got, _, err := parseBack(enc, false); err != nil && !strings.Contains(s, "\x00") || err == nil && got != s {
				t.Errorf("QuoteString(%q, %v) = %q parses as %q, %v", s, utf8, enc, got, err)
			}
			enc = FormatAString(s, utf8)
			if got, _, err := parseBack(enc, false); err != nil && !strings.Contains(s, "\x00") || err == nil && got != s {
				t.Errorf("FormatAString(%q, %v) = %q parses as %q, %v", s, utf8, enc, got, err)
			}
			// In nstring position "NIL" must not come back as nil.
			if got, isNil, err := parseBack(enc, true); err == nil && (isNil || got != s) {
				t.Errorf("nstring %q: %q nil=%v", enc, got, isNil)
			}
			if strings.ContainsAny(s, "\r\n\x00") && enc[0] != '{' {
				t.Errorf("%q must be a literal, got %q", s, enc)
			}
			if !utf8 && strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) && enc[0] != '{' {
				t.Errorf("8-bit %q must be a literal without UTF8=ACCEPT, got %q", s, enc)
			}
		}
	}
	if QuoteString("naïve", true) != `"naïve"` {
		t.Error("UTF-8 should be quoted with UTF8=ACCEPT")
	}
	if FormatAString("INBOX", false) != "INBOX" || FormatAString("NIL", false) != `"NIL"` {
		t.Error("atoms")
	}
}

func written(fn func(w *Writer)) string {
	var b bytes.Buffer
	w := NewWriter(&b)
	fn(w)
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return b.String()
}

func TestWriterResponses(t *testing.T) {
	tests := []struct {
		name string
		fn   func(w *Writer)
		want string
	}{
		{"tagged ok code", func(w *Writer) { w.StatusResponse("A1", OK, CodeAppendUID(38505, 3955), "APPEND completed") },
			"A1 OK [APPENDUID 38505 3955] APPEND completed\r\n"},
		{"untagged", func(w *Writer) { w.StatusResponse("", OK, CodeUIDNext(5), "Predicted next UID") },
			"* OK [UIDNEXT 5] Predicted next UID\r\n"},
		{"no trycreate", func(w *Writer) { w.StatusResponse("A2", NO, CodeTryCreate, "no such mailbox") },
			"A2 NO [TRYCREATE] no such mailbox\r\n"},
		{"copyuid", func(w *Writer) {
			w.StatusResponse("A3", OK, CodeCopyUID(38505, NumSetOf(304, 319, 320), NumSetOf(3956, 3957, 3958)), "Done")
		}, "A3 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"},
		{"modified", func(w *Writer) {
			w.StatusResponse("d105", OK, CodeModified(NumSetOf(7, 9)), "Conditional STORE failed")
		},
			"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"},
		{"highestmodseq", func(w *Writer) { w.StatusResponse("", OK, CodeHighestModSeq(7), "Highest") },
			"* OK [HIGHESTMODSEQ 7] Highest\r\n"},
		{"capability code", func(w *Writer) { w.StatusResponse("", OK, CodeCapability("IMAP4rev1", "LITERAL+"), "ready") },
			"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
		{"badcharset", func(w *Writer) { w.StatusResponse("a", NO, CodeBadCharset("UTF-8", "US-ASCII"), "bad charset") },
			"a NO [BADCHARSET (UTF-8 US-ASCII)] bad charset\r\n"},
		{"permanentflags", func(w *Writer) { w.StatusResponse("", OK, CodePermanentFlags(`\Seen`, `\*`), "Limited") },
			"* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n"},
		{"bye toobig", func(w *Writer) { w.StatusResponse("", BYE, CodeTooBig, "literal too big") },
			"* BYE [TOOBIG] literal too big\r\n"},
		{"closed alert limit nomodseq", func(w *Writer) {
			w.StatusResponse("", OK, CodeClosed, "")
			w.StatusResponse("", NO, CodeAlert, "disk\r\nfull")
			w.StatusResponse("a", NO, CodeLimit, "[x] too many")
			w.StatusResponse("", OK, CodeNoModSeq, "no")
		}, "* OK [CLOSED] completed\r\n* NO [ALERT] disk  full\r\na NO [LIMIT] (x] too many\r\n* OK [NOMODSEQ] no\r\n"},
		{"8-bit text replaced", func(w *Writer) { w.StatusResponse("a", BAD, "", "bäd") }, "a BAD b??d\r\n"},
		{"continue", func(w *Writer) { w.Continue("Ready"); w.ContinueBase64(nil); w.ContinueBase64([]byte("hi")) },
			"+ Ready\r\n+ \r\n+ aGk=\r\n"},
		{"capability", func(w *Writer) { w.Capability("IMAP4rev1", "IDLE") }, "* CAPABILITY IMAP4rev1 IDLE\r\n"},
		{"enabled", func(w *Writer) { w.Enabled("CONDSTORE") }, "* ENABLED CONDSTORE\r\n"},
		{"flags exists recent expunge", func(w *Writer) {
			w.FlagsResponse([]string{`\Answered`, `\Seen`})
			w.Exists(172)
			w.Recent(1)
			w.Expunge(3)
			w.Vanished(true, NumSetOf(41, 43, 44))
		}, "* FLAGS (\\Answered \\Seen)\r\n* 172 EXISTS\r\n* 1 RECENT\r\n* 3 EXPUNGE\r\n* VANISHED (EARLIER) 41,43:44\r\n"},
		{"list", func(w *Writer) {
			w.ListResponse(false, ListData{Attrs: []string{`\HasNoChildren`, `\Sent`}, Delim: '/', Mailbox: "Sent Items"})
			w.ListResponse(false, ListData{Attrs: []string{`\Noselect`}, Delim: 0, Mailbox: ""})
			w.ListResponse(true, ListData{Attrs: []string{}, Delim: '.', Mailbox: "INBOX"})
			w.ListResponse(false, ListData{Attrs: []string{`\NonExistent`}, Delim: '\\', Mailbox: "Foo", ChildInfo: []string{"SUBSCRIBED"}})
		}, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n* LIST (\\Noselect) NIL \"\"\r\n* LSUB () \".\" INBOX\r\n" +
			"* LIST (\\NonExistent) \"\\\\\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"},
		{"list utf8 mailbox without UTF8 goes literal", func(w *Writer) {
			w.ListResponse(false, ListData{Attrs: nil, Delim: '/', Mailbox: "Entwürfe"})
		}, "* LIST () \"/\" {9}\r\nEntwürfe\r\n"},
		{"list utf8 mailbox with UTF8", func(w *Writer) {
			w.UTF8 = true
			w.ListResponse(false, ListData{Attrs: nil, Delim: '/', Mailbox: "Entwürfe"})
		}, "* LIST () \"/\" \"Entwürfe\"\r\n"},
		{"status", func(w *Writer) {
			w.StatusData("blurdybloop", []StatusValue{{StatusMessages, 231}, {StatusUIDNext, 44292}, {StatusHighestModSeq, 7011231777}})
		}, "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)\r\n"},
		{"search", func(w *Writer) {
			w.Search([]uint32{2, 84, 882}, 0)
			w.Search(nil, 0)
			w.Search([]uint32{2, 5}, 917162500)
		},
			"* SEARCH 2 84 882\r\n* SEARCH\r\n* SEARCH 2 5 (MODSEQ 917162500)\r\n"},
		{"esearch", func(w *Writer) {
			w.ESearch(ESearchData{Tag: "A285", UID: true, Min: 7, Max: 3800})
			w.ESearch(ESearchData{Tag: "A284", HasCount: true, Count: 0})
			w.ESearch(ESearchData{Tag: "A283", All: NumSetOf(2, 10, 11), ModSeq: 917162500})
		}, "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n* ESEARCH (TAG \"A284\") COUNT 0\r\n* ESEARCH (TAG \"A283\") ALL 2,10:11 MODSEQ 917162500\r\n"},
		{"id", func(w *Writer) { w.ID([]IDParam{{"name", "Eider", false}, {"support-url", "", true}}); w.ID(nil) },
			"* ID (\"name\" \"Eider\" \"support-url\" NIL)\r\n* ID NIL\r\n"},
		{"namespace", func(w *Writer) { w.Namespace([]NamespaceDesc{{"", '/'}}, nil, nil) },
			"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"},
		{"quota", func(w *Writer) {
			w.Quota("", []QuotaResource{{"STORAGE", 10, 512}})
			w.QuotaRoot("INBOX", "")
		}, "* QUOTA \"\" (STORAGE 10 512)\r\n* QUOTAROOT INBOX \"\"\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := written(tt.fn); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFetchWriter(t *testing.T) {
	env := &Envelope{
		Date:      "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
		Subject:   "IMAP4rev1 WG mtg summary and minutes",
		From:      []Address{{Name: "Terry Gray", Mailbox: "gray", Host: "cac.washington.edu"}},
		Sender:    []Address{{Name: "Terry Gray", Mailbox: "gray", Host: "cac.washington.edu"}},
		ReplyTo:   []Address{{Name: "Terry Gray", Mailbox: "gray", Host: "cac.washington.edu"}},
		To:        []Address{{Mailbox: "imap", Host: "cac.washington.edu"}},
		Cc:        []Address{{Mailbox: "minutes", Host: "CNRI.Reston.VA.US"}, {Name: "John Klensin", Mailbox: "KLENSIN", Host: "MIT.EDU"}},
		MessageID: "<B27397-0100000@cac.washington.edu>",
	}
	bs := &BodyStructure{Type: "TEXT", Subtype: "PLAIN", Params: []Param{{"CHARSET", "US-ASCII"}}, Encoding: "7BIT", Size: 3028, Lines: 92}
	hdr := FetchItem{Kind: FetchBodySection, Peek: true, Section: Section{Specifier: SpecHeaderFields, Fields: []string{"From", "Subject"}}, Partial: &Partial{0, 1024}}
	body := "Subject: hi\r\n\r\n"
	got := written(func(w *Writer) {
		f := w.StartFetch(12)
		f.Flags([]string{`\Seen`})
		f.InternalDate(time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
		f.RFC822Size(4286)
		f.Envelope(env)
		f.BodyStructure(bs, false)
		f.UID(7)
		f.ModSeq(12121231000)
		if err := f.Section(hdr, int64(len(body)), strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		f.SectionNIL(FetchItem{Kind: FetchBodySection, Section: Section{Parts: []uint32{9}}})
		f.BinarySize(FetchItem{Kind: FetchBinarySize, Section: Section{Parts: []uint32{1}}}, 42)
		f.End()
	})
	want := `* 12 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ` +
		`ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ` +
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ` +
		`"<B27397-0100000@cac.washington.edu>") ` +
		`BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92) UID 7 MODSEQ (12121231000) ` +
		"BODY[HEADER.FIELDS (From Subject)]<0> {15}\r\nSubject: hi\r\n\r\n BODY[9] NIL BINARY.SIZE[1] 42)\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestBodyStructureExtended(t *testing.T) {
	inner := &BodyStructure{Type: "text", Subtype: "plain", Size: 5, Lines: 1}
	bs := &BodyStructure{Type: "multipart", Subtype: "mixed", Params: []Param{{"boundary", "xyz"}}, Parts: []*BodyStructure{
		{Type: "text", Subtype: "plain", Params: []Param{{"charset", "utf-8"}}, Encoding: "quoted-printable", Size: 10, Lines: 2},
		{Type: "message", Subtype: "rfc822", Size: 100, Lines: 4, Envelope: &Envelope{Subject: "fwd"}, Body: inner},
		{Type: "application", Subtype: "pdf", Encoding: "base64", Size: 300, Disposition: "attachment",
			DispositionParams: []Param{{"filename", "a.pdf"}}, Language: []string{"en", "de"}, Location: "http://x"},
	}}
	got := written(func(w *Writer) { f := w.StartFetch(1); f.BodyStructure(bs, true); f.End() })
	want := `* 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 10 2 NIL NIL NIL NIL)` +
		`("message" "rfc822" NIL NIL NIL "7BIT" 100 (NIL "fwd" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)` +
		`("application" "pdf" NIL NIL NIL "base64" 300 NIL ("attachment" ("filename" "a.pdf")) ("en" "de") "http://x")` +
		` "mixed" ("boundary" "xyz") NIL NIL NIL))` + "\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("closed")
	}
	f.n--
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(&failWriter{})
	w.Capability("IMAP4rev1")
	if w.Flush() == nil || w.Err() == nil {
		t.Fatal("write error lost")
	}
	// A short body reader breaks the response: the error is reported.
	var b bytes.Buffer
	w = NewWriter(&b)
	f := w.StartFetch(1)
	if err := f.Section(FetchItem{Kind: FetchBodySection}, 10, strings.NewReader("short")); err == nil {
		t.Fatal("short literal not reported")
	}
	if w.Flush() == nil {
		t.Fatal("sticky error")
	}
	// BINARY uses literal8.
	got := written(func(w *Writer) {
		f := w.StartFetch(2)
		_ = f.Section(FetchItem{Kind: FetchBinary, Peek: true, Section: Section{Parts: []uint32{1}}}, 3, strings.NewReader("a\x00b"))
		f.End()
	})
	if got != "* 2 FETCH (BINARY[1] ~{3}\r\na\x00b)\r\n" {
		t.Errorf("%q", got)
	}
}

// TestNumberDoesNotAllocate: numbers are the most frequent thing a FETCH
// writes (sequence numbers, UIDs, sizes, MODSEQs).
func TestNumberDoesNotAllocate(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 1<<16)
	w := NewWriter(bw)
	n := uint64(1)
	if allocs := testing.AllocsPerRun(1000, func() {
		w.Number(n)
		n = n*7 + 1
		if bw.Buffered() > 1<<15 {
			w.Flush()
			out.Reset()
		}
	}); allocs != 0 {
		t.Errorf("Number: %v allocations per call, want 0", allocs)
	}
	w.Flush()
	out.Reset()
	w.Number(18446744073709551615)
	w.Flush()
	if out.String() != "18446744073709551615" {
		t.Errorf("Number(max) = %q", out.String())
	}
}
