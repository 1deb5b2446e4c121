package wire

import "testing"

func TestMUTF7(t *testing.T) {
	pairs := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501 §5.1.3
		{"&", "&-"},
		{"Ärger & Co", "&AMQ-rger &- Co"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"😀", "&2D3eAA-"},   // surrogate pair
		{"a\tb", "a&AAk-b"}, // control characters are encoded
		{"", ""},
		{"Sent Items", "Sent Items"},
	}
	for _, p := range pairs {
		if got := EncodeMUTF7(p.utf8); got != p.mutf7 {
			t.Errorf("Encode(%q) = %q, want %q", p.utf8, got, p.mutf7)
		}
		if got, err := DecodeMUTF7(p.mutf7); err != nil || got != p.utf8 {
			t.Errorf("Decode(%q) = %q, %v, want %q", p.mutf7, got, err, p.utf8)
		}
	}
	for _, bad := range []string{
		"&", "&U,BTFw", "&AGE-", // unterminated; encoded printable ASCII 'a'
		"&U,BTFw-&ZeVnLIqe-", // adjacent runs
		"&2D0-",              // lone high surrogate
		"&3gA-",              // lone low surrogate
		"&AM-",               // truncated unit
		"&AMQ/-",             // '/' is not modified base64
		"caf\xc3\xa9",        // raw 8-bit
		"a\tb",               // raw control
		"&AMR-",              // non-zero padding bits
	} {
		if got, err := DecodeMUTF7(bad); err == nil {
			t.Errorf("Decode(%q) accepted: %q", bad, got)
		}
	}
	if got := EncodeMUTF7("a\xffb"); got != "a&,,0-b" {
		t.Errorf("invalid UTF-8: %q", got)
	}
}
