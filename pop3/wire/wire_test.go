package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		name string
		args []string
		err  bool
	}{
		{"USER alice\r\n", "USER", []string{"alice"}, false},
		{"top 3 10", "TOP", []string{"3", "10"}, false},
		{"QUIT", "QUIT", nil, false},
		{"PASS correct horse", "PASS", []string{"correct", "horse"}, false},
		{"USER дмитрий@пример.рф", "USER", []string{"дмитрий@пример.рф"}, false},
		{"", "", nil, true},
		{"LIST  1", "", nil, true},
		{"LIST 1 ", "", nil, true},
		{"XY", "", nil, true},
		{"TOOLONG", "", nil, true},
		{"RE1R 1", "", nil, true},
		{"USER a\x00b", "", nil, true},
		{"USER \xff", "", nil, true},
	} {
		cmd, err := ParseCommand([]byte(c.in))
		var se *SyntaxError
		if c.err {
			if !errors.As(err, &se) {
				t.Errorf("%q: err %v, want *SyntaxError", c.in, err)
			}
			continue
		}
		if err != nil || cmd.Name != c.name || strings.Join(cmd.Args, "|") != strings.Join(c.args, "|") {
			t.Errorf("%q: %+v %v", c.in, cmd, err)
		}
	}
	cmd, _ := ParseCommand([]byte("PASS correct horse"))
	if cmd.Rest != "correct horse" {
		t.Errorf("Rest %q", cmd.Rest)
	}
}

func TestReaderLimitsAndRecovers(t *testing.T) {
	in := "NOOP\r\n" + strings.Repeat("x", 10000) + "\r\nSTAT\nQUIT"
	r := NewReader(strings.NewReader(in), 300)
	want := []struct {
		line string
		err  error
	}{{"NOOP", nil}, {"", ErrLineTooLong}, {"STAT", nil}, {"", io.ErrUnexpectedEOF}}
	for i, w := range want {
		l, err := r.ReadLine()
		if string(l) != w.line || !errors.Is(err, w.err) {
			t.Fatalf("line %d: %q %v, want %q %v", i, l, err, w.line, w.err)
		}
	}
}

func TestResponses(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.OK("2 320")
	w.Err(CodeInUse, "locked\r\nINJECT")
	w.Lines("1 120", ".hidden")
	body := w.Body()
	io.WriteString(body, "Subject: x\n\n.dot\r\nbare\rcr\r\nno newline")
	body.Close()
	w.Flush()
	want := "+OK 2 320\r\n-ERR [IN-USE] locked  INJECT\r\n1 120\r\n..hidden\r\n.\r\n" +
		"Subject: x\r\n\r\n..dot\r\nbare\r\ncr\r\nno newline\r\n.\r\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestTop(t *testing.T) {
	msg := "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n" + strings.Repeat("y", 5000) + "\r\nl4\r\n"
	for n, want := range map[int]string{
		0:   "A: 1\r\nB: 2\r\n\r\n",
		2:   "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n",
		3:   "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n" + strings.Repeat("y", 5000) + "\r\n",
		100: msg,
	} {
		var b bytes.Buffer
		if err := Top(&b, strings.NewReader(msg), n); err != nil || b.String() != want {
			t.Errorf("TOP %d: %q %v", n, b.String(), err)
		}
	}
	var b bytes.Buffer
	Top(&b, strings.NewReader("No: body"), 0)
	if b.String() != "No: body" {
		t.Errorf("headers only: %q", b.String())
	}
}
