package wire

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseCommand: the parser never panics, and what it accepts keeps the
// Command invariants and re-encodes to a line that parses the same.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice", "PASS a b c", "TOP 1 10", "AUTH PLAIN AGFsaWNlAHB3", "LIST", "", " ", "UIDL 1 2 ", "\x00\xff", "STLS\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			return
		}
		if len(cmd.Name) < 3 || len(cmd.Name) > 4 || strings.ToUpper(cmd.Name) != cmd.Name {
			t.Fatalf("bad name %q", cmd.Name)
		}
		if strings.Join(cmd.Args, " ") != cmd.Rest {
			t.Fatalf("args %q vs rest %q", cmd.Args, cmd.Rest)
		}
		enc := cmd.Name
		if cmd.Rest != "" {
			enc += " " + cmd.Rest
		}
		again, err := ParseCommand([]byte(enc + "\r\n"))
		if err != nil || again.Name != cmd.Name || again.Rest != cmd.Rest {
			t.Fatalf("re-encoded %q: %+v %v", enc, again, err)
		}
	})
}

// FuzzBody: un-stuffing what Body wrote gives back the input with line
// ends made CRLF, and the only "." line is the terminator.
func FuzzBody(f *testing.F) {
	for _, s := range []string{"a\r\n.b\r\n", ".\r\n", "x\ny\rz", "", "..\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var b bytes.Buffer
		w := NewWriter(&b)
		body := w.Body()
		body.Write(in)
		body.Close()
		w.Flush()
		out := b.String()
		if !strings.HasSuffix(out, ".\r\n") {
			t.Fatalf("no terminator: %q", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		if lines[len(lines)-1] != "." {
			t.Fatalf("last line %q", lines[len(lines)-1])
		}
		var got []string
		for _, l := range lines[:len(lines)-1] {
			if l == "." || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("bad line %q in %q", l, out)
			}
			got = append(got, strings.TrimPrefix(l, "."))
		}
		norm := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(in))
		norm = strings.TrimSuffix(norm, "\n")
		if norm == "" && len(got) == 0 {
			return
		}
		if strings.Join(got, "\n") != norm {
			t.Fatalf("round trip: %q -> %q", in, out)
		}
	})
}
