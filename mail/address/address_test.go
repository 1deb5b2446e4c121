package address

import (
	"errors"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"User@Example.COM", "user@example.com"},
		{"дмитрий@пример.рф", "дмитрий@пример.рф"},
		{"ДМИТРИЙ@xn--e1afmkfd.xn--p1ai", "дмитрий@пример.рф"},
		{"Dmitri@XN--E1AFMKFD.XN--P1AI.", "dmitri@пример.рф"},
		{"e\u0301cole@example.org", "\u00e9cole@example.org"}, // NFD -> NFC
		{"Straße@Bücher.de", "strasse@bücher.de"},
	}
	for _, c := range cases {
		got, err := Normalize(c.in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"", "nodomain", "@example.com", "user@", "us er@example.com", "user@exa mple.com", "a@b@", "\xff@example.com"} {
		if _, err := Normalize(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestStripLabel(t *testing.T) {
	if got, ok := StripLabel("user+news@example.com"); !ok || got != "user@example.com" {
		t.Errorf("StripLabel = %q %v", got, ok)
	}
	if got, ok := StripLabel("user@example.com"); ok || got != "user@example.com" {
		t.Errorf("StripLabel no label = %q %v", got, ok)
	}
	if _, ok := StripLabel("+x@example.com"); ok {
		t.Error("StripLabel stripped a label-only local part")
	}
}

func TestASCIIDomain(t *testing.T) {
	got, err := ASCIIDomain("дмитрий@пример.рф")
	if err != nil || got != "дмитрий@xn--e1afmkfd.xn--p1ai" {
		t.Fatalf("ASCIIDomain = %q, %v", got, err)
	}
}

func TestNormalizeUsername(t *testing.T) {
	a, err := NormalizeUsername("Дмитрий")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NormalizeUsername("дмитрий")
	if a != b {
		t.Fatalf("case variants differ: %q %q", a, b)
	}
	for _, bad := range []string{"", "a b", "a@b", "x\x00"} {
		if _, err := NormalizeUsername(bad); err == nil {
			t.Errorf("NormalizeUsername(%q) accepted", bad)
		}
	}
}
