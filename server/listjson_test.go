package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// TestListJSONMatchesEncodingJSON: the hand-written list encoder gives
// byte for byte what the generated response type writes through
// encoding/json, for strings that need every kind of escape, empty and nil
// lists, zero dates and both cursors present or absent.
func TestListJSONMatchesEncodingJSON(t *testing.T) {
	var nasty []string
	for c := 0; c < 0x80; c++ {
		nasty = append(nasty, "a"+string(rune(c))+"b")
	}
	nasty = append(nasty, "", "plain", "<script>&amp;</script>", "\u2028\u2029", "é中🙂", "\xff\xfe", "bad\xc3(",
		"tail\xe2\x82", strings.Repeat("\\\"", 5), "\x00\x1f\x7f", "\ufeffbom", "Ünïcödé <a@b>")
	if !utf8.ValidString(nasty[len(nasty)-1]) {
		t.Fatal("fixture")
	}
	base := time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("x", 5*3600+1800))
	var ms []store.Message
	for i, s := range nasty {
		m := store.Message{
			MessageRef: store.MessageRef{ID: "id" + s, UID: uint32(i + 1), Flags: []string{`\Seen`, s}},
			MailboxID:  "mb" + s, Subject: s, Intro: s + s, ThreadID: "t" + s, Size: int64(i) * 1000003,
			InternalDate: base.Add(time.Duration(i) * time.Hour), HasAttachments: i%2 == 0,
		}
		if i%3 != 0 {
			m.Date = base.Add(-time.Duration(i) * time.Minute)
		}
		if i%5 == 0 {
			m.Flags = nil
		}
		if i%4 == 0 {
			m.InternalDate = time.Unix(0, 0)
		}
		var as []mimetree.Address
		for j := 0; j < i%3; j++ {
			as = append(as, mimetree.Address{Name: s[:j%(len(s)+1)], Address: s + "@example.com"})
		}
		m.Summary = appendListSummary(t, as, i)
		ms = append(ms, m)
	}
	c1, c2 := "bzo6OjE3", "bjo6OTk"
	for _, tc := range []struct {
		ms         []store.Message
		next, prev *string
	}{{ms, nil, nil}, {ms[:1], &c1, nil}, {ms[3:9], nil, &c2}, {nil, &c1, &c2}, {ms[:0], nil, nil}} {
		want := api.ListMessages200JSONResponse{Messages: make([]api.MessageSummary, 0, len(tc.ms)), NextCursor: tc.next, PreviousCursor: tc.prev}
		for i := range tc.ms {
			s, err := summaryOf(&tc.ms[i])
			if err != nil {
				t.Fatal(err)
			}
			want.Messages = append(want.Messages, s)
		}
		wrec, grec := httptest.NewRecorder(), httptest.NewRecorder()
		if err := want.VisitListMessagesResponse(wrec); err != nil {
			t.Fatal(err)
		}
		got, err := encodeList(tc.ms, tc.next, tc.prev)
		if err != nil {
			t.Fatal(err)
		}
		if err := got.VisitListMessagesResponse(grec); err != nil {
			t.Fatal(err)
		}
		if grec.Code != wrec.Code || grec.Header().Get("Content-Type") != wrec.Header().Get("Content-Type") {
			t.Fatalf("status %d %q, want %d %q", grec.Code, grec.Header().Get("Content-Type"), wrec.Code, wrec.Header().Get("Content-Type"))
		}
		if cl := grec.Header().Get("Content-Length"); cl != strconv.Itoa(grec.Body.Len()) {
			t.Fatalf("Content-Length %q for %d bytes", cl, grec.Body.Len())
		}
		if !bytes.Equal(grec.Body.Bytes(), wrec.Body.Bytes()) {
			g, w := grec.Body.String(), wrec.Body.String()
			i := 0
			for i < len(g) && i < len(w) && g[i] == w[i] {
				i++
			}
			t.Fatalf("bodies differ at byte %d:\n got …%q\nwant …%q", i, g[max(0, i-40):min(len(g), i+40)], w[max(0, i-40):min(len(w), i+40)])
		}
		if len(tc.ms) > 0 && !json.Valid(grec.Body.Bytes()) {
			t.Fatal("invalid JSON")
		}
	}
	// A year RFC 3339 cannot write fails as encoding/json fails.
	bad := []store.Message{{MessageRef: store.MessageRef{ID: "x", UID: 1}, InternalDate: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := encodeList(bad, nil, nil); err == nil {
		t.Fatal("year 10000 encoded")
	}
}

// appendListSummary gives a message its Summary in the JSON form of
// migration 0004 (the encoder sees only the decoded lists), or none for
// some (Addresses then reports no addresses).
func appendListSummary(t *testing.T, as []mimetree.Address, i int) []byte {
	t.Helper()
	if i%7 == 0 {
		return nil
	}
	m := map[string][]mimetree.Address{"from": as, "cc": as}
	if len(as) > 1 {
		m["to"], m["bcc"] = as[1:], as[:1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
