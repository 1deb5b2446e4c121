package wire

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestErrorsResync feeds a bad command followed by a good one: the bad one
// must give a *SyntaxError of the expected kind and tag, and the good one
// must parse afterwards.
func TestErrorsResync(t *testing.T) {
	tests := []struct {
		name string
		in   string
		tag  string
		kind ErrorKind
		lim  Limits
	}{
		{"missing args", "a1 LOGIN fred\r\n", "a1", KindSyntax, Limits{}},
		{"missing command", "a1\r\n", "a1", KindSyntax, Limits{}},
		{"bad tag", "+ NOOP\r\n", "", KindSyntax, Limits{}},
		{"unknown command", "a1 FROB x y\r\n", "a1", KindUnknown, Limits{}},
		{"unknown uid command", "a1 UID NOOP\r\n", "a1", KindUnknown, Limits{}},
		{"trailing junk", "a1 NOOP now\r\n", "a1", KindSyntax, Limits{}},
		{"double space", "a1 SELECT  INBOX\r\n", "a1", KindSyntax, Limits{}},
		{"bad date", "a1 SEARCH SINCE 31-Feb-2020\r\n", "a1", KindSyntax, Limits{}},
		{"bad month", "a1 SEARCH SINCE 1-Foo-2020\r\n", "a1", KindSyntax, Limits{}},
		{"bad append date", `a1 APPEND x "1-Jan-2020" {3}` + "\r\n", "a1", KindSyntax, Limits{}},
		{"zero in seq set", "a1 FETCH 0:3 FLAGS\r\n", "a1", KindSyntax, Limits{}},
		{"zero in search set", "a1 SEARCH 1,0\r\n", "a1", KindSyntax, Limits{}},
		{"malformed seq set", "a1 FETCH 1::3 FLAGS\r\n", "a1", KindSyntax, Limits{}},
		{"seq overflow", "a1 FETCH 4294967296 FLAGS\r\n", "a1", KindSyntax, Limits{}},
		{"unterminated quote", "a1 SELECT \"INBOX\r\n", "a1", KindSyntax, Limits{}},
		{"bad escape", `a1 SELECT "IN\BOX"` + "\r\n", "a1", KindSyntax, Limits{}},
		{"unclosed list", "a1 FETCH 1 (FLAGS UID\r\n", "a1", KindSyntax, Limits{}},
		{"unknown fetch item", "a1 FETCH 1 (FLAGS BLAH)\r\n", "a1", KindSyntax, Limits{}},
		{"partial zero", "a1 FETCH 1 BODY[]<0.0>\r\n", "a1", KindSyntax, Limits{}},
		{"mime without part", "a1 FETCH 1 BODY[MIME]\r\n", "a1", KindSyntax, Limits{}},
		{"vanished without changedsince", "a1 UID FETCH 1 FLAGS (VANISHED)\r\n", "a1", KindSyntax, Limits{}},
		{"vanished non-uid", "a1 FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", "a1", KindSyntax, Limits{}},
		{"bad store", "a1 STORE 1 FLAGZ (x)\r\n", "a1", KindSyntax, Limits{}},
		{"unknown search key", "a1 SEARCH FOO\r\n", "a1", KindSyntax, Limits{}},
		{"or missing operand", "a1 SEARCH OR SEEN\r\n", "a1", KindSyntax, Limits{}},
		{"empty search group", "a1 SEARCH ()\r\n", "a1", KindSyntax, Limits{}},
		{"recursivematch alone", `a1 LIST (RECURSIVEMATCH) "" *` + "\r\n", "a1", KindSyntax, Limits{}},
		{"bad status item", "a1 STATUS INBOX (FOO)\r\n", "a1", KindSyntax, Limits{}},
		{"bad base64 IR", "a1 AUTHENTICATE PLAIN !!!!\r\n", "a1", KindSyntax, Limits{}},
		{"literal not at end of line", "a1 LOGIN {3} x\r\n", "a1", KindSyntax, Limits{}},
		{"NUL in literal", "a1 LOGIN {3+}\r\na\x00b x\r\n", "a1", KindSyntax, Limits{}},
		{"8-bit invalid utf8 quoted", "a1 SELECT \"\xff\"\r\n", "a1", KindSyntax, Limits{}},
		{"too deep", "a1 SEARCH " + strings.Repeat("(", 50) + "ALL" + strings.Repeat(")", 50) + "\r\n", "a1", KindSyntax, Limits{MaxDepth: 10}},
		{"too deep NOT chain", "a1 SEARCH " + strings.Repeat("NOT ", 50) + "ALL\r\n", "a1", KindSyntax, Limits{MaxDepth: 10}},

		// Overlong lines, also ones announcing a literal that must be skipped.
		// The tag of an overlong first line is recovered so the client
		// gets a tagged answer.
		{"overlong line", "a1 SEARCH " + strings.Repeat("SEEN ", 100) + "ALL\r\n", "a1", KindTooLong, Limits{MaxLine: 100}},
		{"overlong line with non-sync literal", "a1 LOGIN " + strings.Repeat("x", 200) + " {20+}\r\nb1 NOOP\r\nb2 NOOP\r\nc\r\n", "a1", KindTooLong, Limits{MaxLine: 100}},
		{"overlong line without a tag", strings.Repeat("x", 200) + "\r\n", "", KindTooLong, Limits{MaxLine: 100}},
		{"overlong line with an invalid tag", "a+b " + strings.Repeat("x", 200) + "\r\n", "", KindTooLong, Limits{MaxLine: 100}},
		{"overlong line beyond the read buffer", "big " + strings.Repeat("x", 40000) + "\r\n", "big", KindTooLong, Limits{MaxLine: 100}},
		{"overlong continuation line", "a1 LOGIN {1}\r\nx " + strings.Repeat("y", 200) + "\r\n", "a1", KindTooLong, Limits{MaxLine: 100}},

		// Literals too large.
		{"oversized sync literal", "a1 LOGIN {100000}\r\n", "a1", KindTooBig, Limits{MaxBuffered: 1000}},
		{"oversized non-sync literal skipped", "a1 LOGIN x {2000+}\r\n" + strings.Repeat("b1 NOOP\r\n", 222) + "zz\r\n", "a1", KindTooBig, Limits{MaxBuffered: 1000}},
		{"error before non-sync literal skips it", "a1 FROB {11+}\r\nb1 LOGOUT\r\n\r\n", "a1", KindUnknown, Limits{}},
		{"error with chained non-sync literals", "a1 LOGIN fred bad\" {9+}\r\nb1 NOOP\r\n {9+}\r\nb2 NOOP\r\n\r\n", "a1", KindSyntax, Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := testReader(tt.in+"OK1 NOOP\r\n", tt.lim)
			_, err := r.ReadCommand()
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want *SyntaxError, got %v", err)
			}
			if se.Kind != tt.kind || se.Tag != tt.tag || se.Fatal {
				t.Fatalf("got kind=%v tag=%q fatal=%v (%v), want kind=%v tag=%q", se.Kind, se.Tag, se.Fatal, se, tt.kind, tt.tag)
			}
			cmd, err := r.ReadCommand()
			if err != nil || cmd.Tag != "OK1" || cmd.Name != "NOOP" {
				t.Fatalf("after resync: %+v, %v", cmd, err)
			}
			expectEOF(t, r)
		})
	}
}

func TestFatalAndIOErrors(t *testing.T) {
	// A non-synchronising literal whose size does not even parse.
	r, _ := testReader("a1 LOGIN {99999999999999999999+}\r\n", Limits{})
	_, err := r.ReadCommand()
	var se *SyntaxError
	if !errors.As(err, &se) || !se.Fatal {
		t.Fatalf("want fatal, got %v", err)
	}
	// Truncated input.
	for _, in := range []string{"a1 NOOP", "a1 LOGIN {5}\r\nab", "a1 LOGIN {5+}\r\nabcde"} {
		r, _ = testReader(in, Limits{})
		if _, err := r.ReadCommand(); err != io.ErrUnexpectedEOF {
			t.Errorf("%q: want ErrUnexpectedEOF, got %v", in, err)
		}
	}
	// No ContinueFunc: synchronising literals are refused.
	r = NewReader(strings.NewReader("a1 LOGIN {1}\r\nb NOOP\r\n"), Limits{}, nil)
	if _, err := r.ReadCommand(); !errors.As(err, &se) {
		t.Fatal(err)
	}
	if cmd := mustRead(t, r); cmd.Tag != "b" {
		t.Fatal(cmd)
	}
}

func TestEmptyLinesSkipped(t *testing.T) {
	r, _ := testReader("\r\n\r\na NOOP\r\n", Limits{})
	if mustRead(t, r).Tag != "a" {
		t.Fatal()
	}
}

func TestBufferedAfterStartTLS(t *testing.T) {
	r, _ := testReader("a STARTTLS\r\nb LOGIN x y\r\n", Limits{})
	mustRead(t, r)
	if r.Buffered() == 0 {
		t.Fatal("pipelined bytes after STARTTLS must be visible")
	}
}

// Lines spanning several bufio buffers: accepted up to MaxLine, discarded
// (with a trailing non-synchronising literal skipped) beyond it.
func TestLongLines(t *testing.T) {
	set := strings.Repeat("1,", 20000) + "2" // 40 KB: several 16 KiB buffers
	r, _ := testReader("a FETCH "+set+" FLAGS\r\nb NOOP\r\n", Limits{})
	if cmd := mustRead(t, r); len(cmd.Args.(*FetchArgs).Set.Ranges) != 20001 {
		t.Fatal("long set")
	}
	mustRead(t, r)

	huge := "a FETCH " + strings.Repeat("1,", 50000) + "2 BODY[HEADER.FIELDS {12+}\r\nb1 LOGOUT\r\n)]\r\n"
	r, _ = testReader(huge+"c NOOP\r\n", Limits{})
	_, err := r.ReadCommand()
	var se *SyntaxError
	if !errors.As(err, &se) || se.Kind != KindTooLong || se.Fatal || se.Tag != "a" {
		t.Fatalf("%v", err)
	}
	if se.Error() == "" || se.Kind.String() != "too long" {
		t.Fatal("Error text")
	}
	if cmd := mustRead(t, r); cmd.Tag != "c" {
		t.Fatalf("resync after huge line: %+v", cmd)
	}
	// ReadLine too.
	r, _ = testReader(strings.Repeat("x", 70000)+"\r\nDONE\r\n", Limits{})
	if _, err := r.ReadLine(); !errors.As(err, &se) || se.Kind != KindTooLong {
		t.Fatal(err)
	}
	if l, _ := r.ReadLine(); !IsDone(l) {
		t.Fatal(l)
	}
}
