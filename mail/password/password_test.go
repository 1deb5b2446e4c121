package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse ☃", Fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the given params", h)
	}
	if err := Verify("correct horse ☃", h); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := Verify("correct horse", h); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: err = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse ☃", Fast)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=0$c2FsdA$a2V5"} {
		if err := Verify("x", bad); !errors.Is(err, ErrFormat) {
			t.Errorf("Verify(%q) = %v, want ErrFormat", bad, err)
		}
	}
}
