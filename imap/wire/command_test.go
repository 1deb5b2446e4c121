package wire

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCommands(t *testing.T) {
	type tc struct {
		name  string
		in    string
		want  *Command
		conts int
	}
	c := func(tag, name string, uid bool, args any) *Command {
		return &Command{Tag: tag, Name: name, UID: uid, Args: args}
	}
	tests := []tc{
		{"capability", "a001 CAPABILITY\r\n", c("a001", "CAPABILITY", false, nil), 0},
		{"lower case", "a1 capability\r\n", c("a1", "CAPABILITY", false, nil), 0},
		{"noop", "2 NOOP\r\n", c("2", "NOOP", false, nil), 0},
		{"logout bare LF", "A3 LOGOUT\n", c("A3", "LOGOUT", false, nil), 0},
		{"starttls", "1 STARTTLS\r\n", c("1", "STARTTLS", false, nil), 0},
		{"tag with odd chars", "a.b-c]9 NOOP\r\n", c("a.b-c]9", "NOOP", false, nil), 0},

		// AUTHENTICATE (RFC 3501 §6.2.2, SASL-IR RFC 4959)
		{"authenticate", "A01 AUTHENTICATE PLAIN\r\n",
			c("A01", "AUTHENTICATE", false, &AuthenticateArgs{Mechanism: "PLAIN"}), 0},
		{"authenticate IR", "A01 AUTHENTICATE plain AHVzZXIAcGFzcw==\r\n",
			c("A01", "AUTHENTICATE", false, &AuthenticateArgs{Mechanism: "PLAIN",
				HasInitialResponse: true, InitialResponse: []byte("\x00user\x00pass")}), 0},
		{"authenticate empty IR", "A01 AUTHENTICATE EXTERNAL =\r\n",
			c("A01", "AUTHENTICATE", false, &AuthenticateArgs{Mechanism: "EXTERNAL",
				HasInitialResponse: true, InitialResponse: []byte{}}), 0},

		// LOGIN: atoms, quoted with escapes, literals (imaplib sends quoted)
		{"login atoms", "a1 LOGIN fred secret\r\n",
			c("a1", "LOGIN", false, &LoginArgs{"fred", "secret"}), 0},
		{"login quoted escapes", `a1 LOGIN "fred@example.com" "p\"a\\ss w"` + "\r\n",
			c("a1", "LOGIN", false, &LoginArgs{"fred@example.com", `p"a\ss w`}), 0},
		{"login literals", "a1 LOGIN {4}\r\nfred {6}\r\nse\"c t\r\n",
			c("a1", "LOGIN", false, &LoginArgs{"fred", "se\"c t"}), 2},
		{"login literal+", "a1 LOGIN {4+}\r\nfred {0+}\r\n\r\n",
			c("a1", "LOGIN", false, &LoginArgs{"fred", ""}), 0},
		{"login utf8 quoted", "a1 LOGIN \"jörg\" \"pässwörd\"\r\n",
			c("a1", "LOGIN", false, &LoginArgs{"jörg", "pässwörd"}), 0},

		{"enable", "t1 ENABLE CONDSTORE utf8=accept QRESYNC\r\n",
			c("t1", "ENABLE", false, &EnableArgs{[]string{"CONDSTORE", "UTF8=ACCEPT", "QRESYNC"}}), 0},

		// ID (RFC 2971) as Thunderbird / Apple Mail send it
		{"id nil", "a ID NIL\r\n", c("a", "ID", false, &IDArgs{}), 0},
		{"id pairs", `3 ID ("name" "Thunderbird" "version" "115.3.1" "os" NIL)` + "\r\n",
			c("3", "ID", false, &IDArgs{Params: []IDParam{{"name", "Thunderbird", false},
				{"version", "115.3.1", false}, {"os", "", true}}}), 0},
		{"id empty", "3 ID ()\r\n", c("3", "ID", false, &IDArgs{Params: []IDParam{}}), 0},

		// SELECT / EXAMINE
		{"select inbox case", "A142 SELECT inbox\r\n",
			c("A142", "SELECT", false, &SelectArgs{Mailbox: "INBOX"}), 0},
		{"select quoted", `A142 SELECT "Sent Items"` + "\r\n",
			c("A142", "SELECT", false, &SelectArgs{Mailbox: "Sent Items"}), 0},
		{"select condstore", "A142 SELECT INBOX (CONDSTORE)\r\n",
			c("A142", "SELECT", false, &SelectArgs{Mailbox: "INBOX", CondStore: true}), 0},
		{"examine literal name", "A1 EXAMINE {5}\r\nab cd\r\n",
			c("A1", "EXAMINE", false, &SelectArgs{Mailbox: "ab cd"}), 1},
		{"select qresync", "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
			c("A02", "SELECT", false, &SelectArgs{Mailbox: "INBOX", QResync: &QResyncParams{
				UIDValidity: 67890007, ModSeq: 20050715194045000, KnownUIDs: seq("41,43:211,214:541")}}), 0},
		{"select qresync seqmatch", "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979:29997)))\r\n",
			c("B04", "SELECT", false, &SelectArgs{Mailbox: "INBOX", QResync: &QResyncParams{
				UIDValidity: 67890007, ModSeq: 90060115194045000, KnownUIDs: seq("1:29997"),
				KnownSeqs:    seq("5000,7500,9000,9990:9999"),
				KnownSeqUIDs: seq("15000,22500,27000,29970,29973,29976,29979:29997")}}), 0},

		// CREATE (RFC 6154 USE)
		{"create", "A003 CREATE owatagusiam/\r\n",
			c("A003", "CREATE", false, &CreateArgs{Mailbox: "owatagusiam/"}), 0},
		{"create use", `t1 CREATE "Sent Mail" (USE (\sent))` + "\r\n",
			c("t1", "CREATE", false, &CreateArgs{Mailbox: "Sent Mail", SpecialUse: []string{`\Sent`}}), 0},
		{"delete", "A1 DELETE blurdybloop\r\n", c("A1", "DELETE", false, &MailboxArgs{"blurdybloop"}), 0},
		{"rename", "A1 RENAME \"old box\" new/box\r\n",
			c("A1", "RENAME", false, &RenameArgs{"old box", "new/box"}), 0},
		{"subscribe", "A1 SUBSCRIBE #news.comp.mail.mime\r\n",
			c("A1", "SUBSCRIBE", false, &MailboxArgs{"#news.comp.mail.mime"}), 0},
		{"unsubscribe", "A1 UNSUBSCRIBE \"&AOQ-rger\"\r\n",
			c("A1", "UNSUBSCRIBE", false, &MailboxArgs{"&AOQ-rger"}), 0},

		// LIST / LSUB
		{"list basic", `A101 LIST "" ""` + "\r\n",
			c("A101", "LIST", false, &ListArgs{Reference: "", Patterns: []string{""}}), 0},
		{"list wildcard", `A102 LIST #news.comp.mail.misc *` + "\r\n",
			c("A102", "LIST", false, &ListArgs{Reference: "#news.comp.mail.misc", Patterns: []string{"*"}}), 0},
		{"list percent", `A103 LIST /usr/staff/jones %` + "\r\n",
			c("A103", "LIST", false, &ListArgs{Reference: "/usr/staff/jones", Patterns: []string{"%"}}), 0},
		{"list extended", `A01 LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Drafts*" %) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN HIGHESTMODSEQ))` + "\r\n",
			c("A01", "LIST", false, &ListArgs{Reference: "", Patterns: []string{"INBOX", "Drafts*", "%"},
				Extended: true, SelectSubscribed: true, SelectRecursiveMatch: true,
				ReturnChildren: true, ReturnSpecialUse: true,
				ReturnStatus: []StatusItem{StatusMessages, StatusUnseen, StatusHighestModSeq}}), 0},
		{"list return subscribed (Apple Mail)", `4 LIST "" "*" RETURN (SUBSCRIBED CHILDREN)` + "\r\n",
			c("4", "LIST", false, &ListArgs{Reference: "", Patterns: []string{"*"}, Extended: true,
				ReturnSubscribed: true, ReturnChildren: true}), 0},
		{"list special-use", `t LIST (SPECIAL-USE) "" "*"` + "\r\n",
			c("t", "LIST", false, &ListArgs{Reference: "", Patterns: []string{"*"}, Extended: true, SelectSpecialUse: true}), 0},
		{"list empty return", `t LIST "" % RETURN ()` + "\r\n",
			c("t", "LIST", false, &ListArgs{Reference: "", Patterns: []string{"%"}, Extended: true}), 0},
		{"lsub", `A002 LSUB "#news." "comp.mail.*"` + "\r\n",
			c("A002", "LSUB", false, &ListArgs{Reference: "#news.", Patterns: []string{"comp.mail.*"}}), 0},

		{"namespace", "A001 NAMESPACE\r\n", c("A001", "NAMESPACE", false, nil), 0},
		{"status", "A042 STATUS blurdybloop (UIDNEXT MESSAGES unseen HIGHESTMODSEQ SIZE RECENT UIDVALIDITY)\r\n",
			c("A042", "STATUS", false, &StatusArgs{Mailbox: "blurdybloop", Items: []StatusItem{
				StatusUIDNext, StatusMessages, StatusUnseen, StatusHighestModSeq, StatusSize, StatusRecent, StatusUIDValidity}}), 0},
		{"status inbox", "A042 STATUS Inbox (MESSAGES)\r\n",
			c("A042", "STATUS", false, &StatusArgs{Mailbox: "INBOX", Items: []StatusItem{StatusMessages}}), 0},

		{"check", "FXXZ CHECK\r\n", c("FXXZ", "CHECK", false, nil), 0},
		{"close", "A341 CLOSE\r\n", c("A341", "CLOSE", false, nil), 0},
		{"unselect", "A342 UNSELECT\r\n", c("A342", "UNSELECT", false, nil), 0},
		{"expunge", "A202 EXPUNGE\r\n", c("A202", "EXPUNGE", false, nil), 0},
		{"uid expunge", "A003 UID EXPUNGE 3000:3002\r\n",
			c("A003", "EXPUNGE", true, &ExpungeArgs{Set: seq("3000:3002")}), 0},
		{"idle", "A002 IDLE\r\n", c("A002", "IDLE", false, nil), 0},

		// COPY / MOVE
		{"copy", "A003 COPY 2:4 MEETING\r\n", c("A003", "COPY", false, &CopyArgs{seq("2:4"), "MEETING"}), 0},
		{"uid copy", "A004 UID COPY 1:*,3,5:7 \"Deleted Items\"\r\n",
			c("A004", "COPY", true, &CopyArgs{seq("1:*,3,5:7"), "Deleted Items"}), 0},
		{"move", "a MOVE 42 Trash\r\n", c("a", "MOVE", false, &CopyArgs{seq("42"), "Trash"}), 0},
		{"uid move saved", "a UID MOVE $ inbox\r\n", c("a", "MOVE", true, &CopyArgs{NumSet{Saved: true}, "INBOX"}), 0},

		// QUOTA, COMPRESS
		{"getquota", `G GETQUOTA ""` + "\r\n", c("G", "GETQUOTA", false, &QuotaRootArgs{""}), 0},
		{"getquotaroot", "G GETQUOTAROOT INBOX\r\n", c("G", "GETQUOTAROOT", false, &MailboxArgs{"INBOX"}), 0},
		{"setquota", `S SETQUOTA "" (STORAGE 512 message 1000)` + "\r\n",
			c("S", "SETQUOTA", false, &SetQuotaArgs{"", []QuotaLimit{{"STORAGE", 512}, {"MESSAGE", 1000}}}), 0},
		{"setquota empty", `S SETQUOTA "" ()` + "\r\n", c("S", "SETQUOTA", false, &SetQuotaArgs{"", []QuotaLimit{}}), 0},
		{"compress", "a COMPRESS deflate\r\n", c("a", "COMPRESS", false, &CompressArgs{"DEFLATE"}), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, conts := testReader(tt.in, Limits{})
			got := mustRead(t, r)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
				if g, ok := got.Args.(interface{}); ok {
					t.Logf("args %+v", g)
				}
			}
			if *conts != tt.conts {
				t.Errorf("continuations: got %d, want %d", *conts, tt.conts)
			}
			expectEOF(t, r)
		})
	}
}

func TestAppend(t *testing.T) {
	msg := "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n"
	n := itoa(len(msg))
	t.Run("sync literal with flags and date", func(t *testing.T) {
		in := "A003 APPEND saved-messages (\\Seen $Forwarded) \"05-jul-2023 10:11:12 +0200\" {" + n + "}\r\n" + msg + "\r\nA004 NOOP\r\n"
		r, conts := testReader(in, Limits{})
		cmd := mustRead(t, r)
		a := cmd.Args.(*AppendArgs)
		if a.Mailbox != "saved-messages" || !reflect.DeepEqual(a.Flags, []string{`\Seen`, "$Forwarded"}) {
			t.Fatalf("args %+v", a)
		}
		if want := time.Date(2023, 7, 5, 10, 11, 12, 0, time.FixedZone("", 7200)); !a.Date.Equal(want) {
			t.Fatalf("date %v", a.Date)
		}
		if *conts != 0 {
			t.Fatal("continuation sent before the session read the literal")
		}
		b, err := io.ReadAll(a.Message)
		if err != nil || string(b) != msg {
			t.Fatalf("read %q %v", b, err)
		}
		if *conts != 1 {
			t.Fatalf("conts %d", *conts)
		}
		if cmd := mustRead(t, r); cmd.Tag != "A004" {
			t.Fatalf("next %+v", cmd)
		}
	})
	t.Run("literal+ empty flags (Thunderbird style)", func(t *testing.T) {
		in := "5 APPEND \"Sent\" () {" + n + "+}\r\n" + msg + "\r\n6 NOOP\r\n"
		r, conts := testReader(in, Limits{})
		a := mustRead(t, r).Args.(*AppendArgs)
		if a.Flags == nil || len(a.Flags) != 0 || !a.Message.NonSync {
			t.Fatalf("%+v", a)
		}
		b, _ := io.ReadAll(a.Message)
		if string(b) != msg || *conts != 0 {
			t.Fatalf("%q conts=%d", b, *conts)
		}
		if mustRead(t, r).Tag != "6" {
			t.Fatal("resync")
		}
	})
	t.Run("rejected before continuation", func(t *testing.T) {
		// The session answers NO [TRYCREATE] without reading: the client
		// never sends the literal.
		in := "A1 APPEND nobox {" + n + "}\r\nA2 NOOP\r\n"
		r, conts := testReader(in, Limits{})
		cmd := mustRead(t, r)
		if cmd.Args.(*AppendArgs).Message.Size != int64(len(msg)) {
			t.Fatal("size")
		}
		if c := mustRead(t, r); c.Tag != "A2" || *conts != 0 {
			t.Fatalf("%+v conts=%d", c, *conts)
		}
	})
	t.Run("non-sync not read is drained", func(t *testing.T) {
		in := "A1 APPEND nobox {" + n + "+}\r\n" + msg + "\r\nA2 NOOP\r\n"
		r, _ := testReader(in, Limits{})
		mustRead(t, r)
		if c := mustRead(t, r); c.Tag != "A2" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("partly read is drained", func(t *testing.T) {
		in := "A1 APPEND x {" + n + "}\r\n" + msg + "\r\nA2 NOOP\r\n"
		r, _ := testReader(in, Limits{})
		a := mustRead(t, r).Args.(*AppendArgs)
		buf := make([]byte, 3)
		if _, err := a.Message.Read(buf); err != nil {
			t.Fatal(err)
		}
		if c := mustRead(t, r); c.Tag != "A2" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("garbage after literal", func(t *testing.T) {
		in := "A1 APPEND x {3}\r\nabc junk {2+}\r\nzz\r\nA2 NOOP\r\n"
		r, _ := testReader(in, Limits{})
		a := mustRead(t, r).Args.(*AppendArgs)
		_, err := io.ReadAll(a.Message)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Tag != "A1" {
			t.Fatalf("want syntax error, got %v", err)
		}
		if c := mustRead(t, r); c.Tag != "A2" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("literal8 and UTF8", func(t *testing.T) {
		in := "A1 APPEND x ~{3}\r\na\x00c\r\nA2 APPEND y UTF8 (~{2+}\r\nhi)\r\nA3 NOOP\r\n"
		r, _ := testReader(in, Limits{})
		a := mustRead(t, r).Args.(*AppendArgs)
		b, err := io.ReadAll(a.Message)
		if err != nil || string(b) != "a\x00c" || !a.Message.Binary {
			t.Fatalf("%q %v", b, err)
		}
		a = mustRead(t, r).Args.(*AppendArgs)
		b, err = io.ReadAll(a.Message)
		if err != nil || string(b) != "hi" || !a.UTF8 {
			t.Fatalf("%q %v", b, err)
		}
		if mustRead(t, r).Tag != "A3" {
			t.Fatal("resync")
		}
	})
	t.Run("mailbox as literal then message literal", func(t *testing.T) {
		in := "A1 APPEND {4}\r\nb ox (\\Draft) {3}\r\nabc\r\n"
		r, conts := testReader(in, Limits{})
		a := mustRead(t, r).Args.(*AppendArgs)
		b, _ := io.ReadAll(a.Message)
		if a.Mailbox != "b ox" || string(b) != "abc" || *conts != 2 {
			t.Fatalf("%+v %q %d", a, b, *conts)
		}
		expectEOF(t, r)
	})
	t.Run("too big sync", func(t *testing.T) {
		in := "A1 APPEND x {1001}\r\nA2 NOOP\r\n"
		r, conts := testReader(in, Limits{MaxLiteral: 1000})
		_, err := r.ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) || se.Kind != KindTooBig || se.Tag != "A1" || se.Name != "APPEND" || se.Fatal {
			t.Fatalf("%v", err)
		}
		if c := mustRead(t, r); c.Tag != "A2" || *conts != 0 {
			t.Fatalf("%+v %d", c, *conts)
		}
	})
	t.Run("too big non-sync drained", func(t *testing.T) {
		in := "A1 APPEND x {1001+}\r\n" + strings.Repeat("x", 1001) + "\r\nA2 NOOP\r\n"
		r, _ := testReader(in, Limits{MaxLiteral: 1000})
		_, err := r.ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) || se.Kind != KindTooBig || se.Fatal {
			t.Fatalf("%v", err)
		}
		if c := mustRead(t, r); c.Tag != "A2" {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("too big non-sync beyond drain is fatal", func(t *testing.T) {
		in := "A1 APPEND x {5000+}\r\n" + strings.Repeat("x", 5000) + "\r\n"
		r, _ := testReader(in, Limits{MaxLiteral: 1000, MaxDrain: 2000})
		_, err := r.ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) || se.Kind != KindTooBig || !se.Fatal {
			t.Fatalf("%v", err)
		}
	})
	t.Run("LITERAL- limit", func(t *testing.T) {
		in := "A1 APPEND x {4097+}\r\n" + strings.Repeat("x", 4097) + "\r\nA2 APPEND x {4096+}\r\n" + strings.Repeat("y", 4096) + "\r\n"
		r, _ := testReader(in, Limits{LiteralMinus: true})
		_, err := r.ReadCommand()
		var se *SyntaxError
		if !errors.As(err, &se) || se.Kind != KindTooBig || se.Fatal {
			t.Fatalf("%v", err)
		}
		a := mustRead(t, r).Args.(*AppendArgs)
		if b, _ := io.ReadAll(a.Message); len(b) != 4096 {
			t.Fatal(len(b))
		}
		// Without LiteralMinus (LITERAL+) 4097 is fine.
		r, _ = testReader(in, Limits{})
		a = mustRead(t, r).Args.(*AppendArgs)
		if b, _ := io.ReadAll(a.Message); len(b) != 4097 {
			t.Fatal(len(b))
		}
	})
	t.Run("continuation error", func(t *testing.T) {
		boom := errors.New("boom")
		r := NewReader(strings.NewReader("A1 APPEND x {3}\r\nabc\r\n"), Limits{}, func() error { return boom })
		a := mustRead(t, r).Args.(*AppendArgs)
		if _, err := io.ReadAll(a.Message); err != boom {
			t.Fatal(err)
		}
	})
}

func itoa(n int) string { return NumSetOf(uint32(n)).String() }

func TestReadLine(t *testing.T) {
	r, _ := testReader("A1 IDLE\r\ndone\r\nA2 AUTHENTICATE PLAIN\r\nAHUAcA==\r\n*\r\n", Limits{})
	mustRead(t, r)
	l, err := r.ReadLine()
	if err != nil || !IsDone(l) {
		t.Fatal(l, err)
	}
	a := mustRead(t, r).Args.(*AuthenticateArgs)
	if a.HasInitialResponse {
		t.Fatal("IR")
	}
	l, _ = r.ReadLine()
	data, cancel, err := DecodeSASLResponse(l)
	if err != nil || cancel || string(data) != "\x00u\x00p" {
		t.Fatal(data, cancel, err)
	}
	l, _ = r.ReadLine()
	if _, cancel, _ = DecodeSASLResponse(l); !cancel {
		t.Fatal("cancel")
	}
	if _, _, err := DecodeSASLResponse("!!"); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func TestAppendFinish(t *testing.T) {
	r, _ := testReader("A1 APPEND x {3}\r\nabc junk\r\nA2 NOOP\r\n", Limits{})
	a := mustRead(t, r).Args.(*AppendArgs)
	var sb strings.Builder
	if n, _ := io.CopyN(&sb, a.Message, a.Message.Size); n != 3 {
		t.Fatal(n)
	}
	var se *SyntaxError
	if err := a.Message.Finish(); !errors.As(err, &se) || se.Tag != "A1" {
		t.Fatalf("Finish: %v", err)
	}
	if err := a.Message.Finish(); !errors.As(err, &se) {
		t.Fatalf("second Finish: %v", err)
	}
	if mustRead(t, r).Tag != "A2" {
		t.Fatal("resync")
	}
	// And a clean one: CopyN returns nil, the next command parses.
	r, _ = testReader("A1 APPEND x {3}\r\nabc\r\nA2 NOOP\r\n", Limits{})
	a = mustRead(t, r).Args.(*AppendArgs)
	if n, err := io.CopyN(io.Discard, a.Message, a.Message.Size); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if err := a.Message.Finish(); err != nil {
		t.Fatal(err)
	}
	if mustRead(t, r).Tag != "A2" {
		t.Fatal("resync")
	}
}
