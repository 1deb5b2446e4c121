package wire

import (
	"reflect"
	"testing"
)

func TestFetch(t *testing.T) {
	it := func(k FetchKind) FetchItem { return FetchItem{Kind: k} }
	tests := []struct {
		name  string
		in    string
		want  *FetchArgs
		names []string // ResponseName of each item
	}{
		{"macro ALL", "a FETCH 1:* ALL", &FetchArgs{Set: seq("1:*"), Items: []FetchItem{
			it(FetchFlags), it(FetchInternalDate), it(FetchRFC822Size), it(FetchEnvelope)}},
			[]string{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}},
		{"macro fast lower", "a FETCH 2 fast", &FetchArgs{Set: seq("2"), Items: []FetchItem{
			it(FetchFlags), it(FetchInternalDate), it(FetchRFC822Size)}}, nil},
		{"macro FULL", "a FETCH 2 FULL", &FetchArgs{Set: seq("2"), Items: []FetchItem{
			it(FetchFlags), it(FetchInternalDate), it(FetchRFC822Size), it(FetchEnvelope), it(FetchBody)}}, nil},
		{"single", "a FETCH 2:4 BODYSTRUCTURE", &FetchArgs{Set: seq("2:4"), Items: []FetchItem{it(FetchBodyStructure)}}, nil},
		{"thunderbird header fetch", "5 UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
			&FetchArgs{Set: seq("1:*"), Items: []FetchItem{it(FetchUID), it(FetchRFC822Size), it(FetchFlags),
				{Kind: FetchBodySection, Peek: true, Section: Section{Specifier: SpecHeaderFields,
					Fields: []string{"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "Priority", "X-Priority",
						"References", "Newsgroups", "In-Reply-To", "Content-Type", "Reply-To"}}}}},
			[]string{"UID", "RFC822.SIZE", "FLAGS", "BODY[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)]"}},
		{"partial header fields", "a FETCH 1 BODY.PEEK[HEADER.FIELDS (From To Subject)]<0.1024>",
			&FetchArgs{Set: seq("1"), Items: []FetchItem{{Kind: FetchBodySection, Peek: true,
				Section: Section{Specifier: SpecHeaderFields, Fields: []string{"From", "To", "Subject"}},
				Partial: &Partial{0, 1024}}}},
			[]string{"BODY[HEADER.FIELDS (From To Subject)]<0>"}},
		{"uid added first", "a UID FETCH 3 (FLAGS)", &FetchArgs{Set: seq("3"), Items: []FetchItem{it(FetchUID), it(FetchFlags)}}, nil},
		{"every simple item", "a FETCH 1 (FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT ENVELOPE BODY BODYSTRUCTURE UID MODSEQ)",
			&FetchArgs{Set: seq("1"), Items: []FetchItem{it(FetchFlags), it(FetchInternalDate), it(FetchRFC822),
				it(FetchRFC822Header), it(FetchRFC822Size), it(FetchRFC822Text), it(FetchEnvelope), it(FetchBody),
				it(FetchBodyStructure), it(FetchUID), it(FetchModSeq)}},
			[]string{"FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT", "ENVELOPE", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"}},
		{"sections", "a FETCH 1 (BODY[] BODY[TEXT] BODY.PEEK[1.2.MIME] BODY[3.HEADER] BODY[4.2] BODY[HEADER.FIELDS.NOT (Received)] BODY[2.TEXT]<10.20>)",
			&FetchArgs{Set: seq("1"), Items: []FetchItem{
				{Kind: FetchBodySection},
				{Kind: FetchBodySection, Section: Section{Specifier: SpecText}},
				{Kind: FetchBodySection, Peek: true, Section: Section{Parts: []uint32{1, 2}, Specifier: SpecMIME}},
				{Kind: FetchBodySection, Section: Section{Parts: []uint32{3}, Specifier: SpecHeader}},
				{Kind: FetchBodySection, Section: Section{Parts: []uint32{4, 2}}},
				{Kind: FetchBodySection, Section: Section{Specifier: SpecHeaderFieldsNot, Fields: []string{"Received"}}},
				{Kind: FetchBodySection, Section: Section{Parts: []uint32{2}, Specifier: SpecText}, Partial: &Partial{10, 20}},
			}},
			[]string{"BODY[]", "BODY[TEXT]", "BODY[1.2.MIME]", "BODY[3.HEADER]", "BODY[4.2]", "BODY[HEADER.FIELDS.NOT (Received)]", "BODY[2.TEXT]<10>"}},
		{"binary", "a FETCH 1 (BINARY[1] BINARY.PEEK[]<0.100> BINARY.SIZE[2])",
			&FetchArgs{Set: seq("1"), Items: []FetchItem{
				{Kind: FetchBinary, Section: Section{Parts: []uint32{1}}},
				{Kind: FetchBinary, Peek: true, Partial: &Partial{0, 100}},
				{Kind: FetchBinarySize, Section: Section{Parts: []uint32{2}}},
			}},
			[]string{"BINARY[1]", "BINARY[]", "BINARY.SIZE[2]"}},
		{"changedsince", "s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
			&FetchArgs{Set: seq("1:*"), Items: []FetchItem{it(FetchUID), it(FetchFlags), it(FetchModSeq)},
				ChangedSince: 12345, HasChangedSince: true, Vanished: true}, nil},
		{"changedsince non-uid", "s100 FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345)",
			&FetchArgs{Set: seq("1:*"), Items: []FetchItem{it(FetchFlags), it(FetchModSeq)},
				ChangedSince: 12345, HasChangedSince: true}, nil},
		{"literal header field name", "a FETCH 1 BODY[HEADER.FIELDS ({7}\r\nX-Weird)]",
			&FetchArgs{Set: seq("1"), Items: []FetchItem{{Kind: FetchBodySection,
				Section: Section{Specifier: SpecHeaderFields, Fields: []string{"X-Weird"}}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := testReader(tt.in+"\r\n", Limits{})
			cmd := mustRead(t, r)
			got := cmd.Args.(*FetchArgs)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			for i, n := range tt.names {
				if i < len(got.Items) && got.Items[i].ResponseName() != n {
					t.Errorf("item %d: response name %q, want %q", i, got.Items[i].ResponseName(), n)
				}
			}
			expectEOF(t, r)
		})
	}
}

func TestSetsSeen(t *testing.T) {
	for _, c := range []struct {
		it   FetchItem
		seen bool
	}{
		{FetchItem{Kind: FetchBodySection}, true},
		{FetchItem{Kind: FetchBodySection, Peek: true}, false},
		{FetchItem{Kind: FetchRFC822}, true},
		{FetchItem{Kind: FetchRFC822Header}, false},
		{FetchItem{Kind: FetchRFC822Text}, true},
		{FetchItem{Kind: FetchBinary}, true},
		{FetchItem{Kind: FetchFlags}, false},
	} {
		if c.it.SetsSeen() != c.seen {
			t.Errorf("%s: SetsSeen=%v", c.it.ResponseName(), !c.seen)
		}
	}
}

func TestStore(t *testing.T) {
	tests := []struct {
		in   string
		uid  bool
		want *StoreArgs
	}{
		{`A003 STORE 2:4 +FLAGS (\Deleted)`, false, &StoreArgs{Set: seq("2:4"), Mode: StoreAdd, Flags: []string{`\Deleted`}}},
		{`A003 STORE 2:4 -flags.silent (\SEEN $Label1)`, false, &StoreArgs{Set: seq("2:4"), Mode: StoreRemove, Silent: true, Flags: []string{`\Seen`, "$Label1"}}},
		{`A003 UID STORE 7 FLAGS ()`, true, &StoreArgs{Set: seq("7"), Mode: StoreReplace, Flags: []string{}}},
		{`A003 UID STORE 7,9 +FLAGS.SILENT \Seen \Answered`, true, &StoreArgs{Set: seq("7,9"), Mode: StoreAdd, Silent: true, Flags: []string{`\Seen`, `\Answered`}}},
		{`d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\Deleted)`, false,
			&StoreArgs{Set: seq("7,5,9"), Mode: StoreAdd, Silent: true, Flags: []string{`\Deleted`}, UnchangedSince: 320162338, HasUnchangedSince: true}},
		{`d105 UID STORE 1 (UNCHANGEDSINCE 0) FLAGS (x)`, true,
			&StoreArgs{Set: seq("1"), Flags: []string{"x"}, HasUnchangedSince: true}},
	}
	for _, tt := range tests {
		r, _ := testReader(tt.in+"\r\n", Limits{})
		cmd := mustRead(t, r)
		if cmd.Name != "STORE" || cmd.UID != tt.uid {
			t.Errorf("%s: %+v", tt.in, cmd)
		}
		if got := cmd.Args.(*StoreArgs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}
