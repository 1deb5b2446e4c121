package mail

import (
	"strings"
	"testing"
)

func TestSanitizeHTMLCIDPrefixes(t *testing.T) {
	cids := map[string]string{"a": "/att/1", "ab": "/att/2", "abc": "/att/3"}
	for i := 0; i < 20; i++ { // map order varies between runs
		out := SanitizeHTML(`<img src="cid:ab"><img src="cid:abc"><img src="cid:a">`, cids, false)
		if !strings.Contains(out, `src="/att/2"`) || !strings.Contains(out, `src="/att/3"`) || !strings.Contains(out, `src="/att/1"`) {
			t.Fatalf("cid rewriting: %s", out)
		}
	}
	out := SanitizeHTML(`<img src="cid:unknown"><a href="https://example.com/">l</a>`, cids, false)
	if strings.Contains(out, "cid:") || !strings.Contains(out, `noreferrer`) || !strings.Contains(out, `src=""`) {
		t.Fatalf("unknown cid or link: %s", out)
	}
}
