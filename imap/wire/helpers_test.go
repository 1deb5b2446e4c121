package wire

import (
	"io"
	"strings"
	"testing"
)

// testReader returns a Reader over input whose continuation requests are
// counted in *conts.
func testReader(input string, lim Limits) (*Reader, *int) {
	conts := new(int)
	r := NewReader(strings.NewReader(input), lim, func() error { *conts++; return nil })
	return r, conts
}

// mustRead reads one command, failing the test on error.
func mustRead(t *testing.T, r *Reader) *Command {
	t.Helper()
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("ReadCommand: %v", err)
	}
	return cmd
}

// expectEOF checks that the input is exhausted.
func expectEOF(t *testing.T, r *Reader) {
	t.Helper()
	cmd, err := r.ReadCommand()
	if err != io.EOF {
		t.Fatalf("want io.EOF, got %+v, %v", cmd, err)
	}
}

func seq(s string) NumSet {
	set, err := ParseNumSet(s)
	if err != nil {
		panic(err)
	}
	return set
}
