package mail

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

func TestSummaryRoundTrip(t *testing.T) {
	for _, a := range []ListAddresses{
		{},
		{From: []mimetree.Address{{Name: "Ünïcode Ö", Address: "ö@exämple.org"}}},
		{From: []mimetree.Address{{Address: "a@b"}}, To: []mimetree.Address{{Name: "x", Address: "y@z"}, {Address: "q@r"}},
			Cc: []mimetree.Address{{Name: "c", Address: "c@d"}}, Bcc: []mimetree.Address{{Name: "", Address: ""}}},
	} {
		b := appendSummary(nil, &a)
		got, err := Addresses(&store.Message{Summary: b})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, a) {
			t.Fatalf("round trip of %+v gave %+v", a, *got)
		}
		// Every strict prefix and any trailing byte is refused.
		for n := 0; n < len(b); n++ {
			if _, err := decodeSummary(b[:n]); err == nil {
				t.Fatalf("prefix %d of %d accepted", n, len(b))
			}
		}
		if _, err := decodeSummary(append(b, 0)); err == nil {
			t.Fatal("trailing byte accepted")
		}
	}
}

// Summaries written as JSON by migration 0004 still read.
func TestSummaryJSONLegacy(t *testing.T) {
	a := ListAddresses{From: []mimetree.Address{{Name: "N", Address: "n@x"}}, Cc: []mimetree.Address{{Address: "c@x"}}}
	b, _ := json.Marshal(a)
	got, err := Addresses(&store.Message{Summary: b})
	if err != nil || !reflect.DeepEqual(*got, a) {
		t.Fatalf("legacy JSON: %+v %v", got, err)
	}
}

func FuzzSummaryDecode(f *testing.F) {
	f.Add(appendSummary(nil, &ListAddresses{To: []mimetree.Address{{Name: "x", Address: "y"}}}))
	f.Add([]byte{summaryV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeSummary(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes (the form is canonical
		// but for non-minimal varints, which AppendUvarint never writes).
		if again := appendSummary(nil, a); len(again) > len(b) {
			t.Fatalf("re-encoding grew: %d > %d", len(again), len(b))
		}
	})
}
