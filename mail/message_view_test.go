package mail_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// viewCorpus appends every corpus message (and a ~4 KB plain one like the
// API benchmark's) and returns them as stored, with Meta.
func viewCorpus(tb testing.TB) []*store.Message {
	svc := mailtest.NewService(tb, "", "", mimetree.DefaultLimits())
	ctx := context.Background()
	u, err := svc.CreateUser(ctx, "v", "pw", "v@example.com", 0)
	if err != nil {
		tb.Fatal(err)
	}
	inbox, _ := svc.Store.FindMailbox(ctx, u.ID, "INBOX")
	files, _ := filepath.Glob("mimetree/testdata/corpus/*")
	if len(files) < 10 {
		tb.Fatalf("corpus: %d files", len(files))
	}
	var raws [][]byte
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		raws = append(raws, raw)
	}
	raws = append(raws, []byte("From: S <s@example.com>\r\nTo: v@example.com\r\nSubject: plain\r\n\r\n"+strings.Repeat("the quick brown fox \r\n", 200)))
	var out []*store.Message
	for _, raw := range raws {
		m, err := svc.Append(ctx, u.ID, inbox.ID, bytesReader(raw), nil, time.Time{})
		if err != nil {
			tb.Fatal(err)
		}
		if m, err = svc.Store.GetMessage(ctx, u.ID, m.ID); err != nil {
			tb.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestViewMetaMatchesMeta: ViewMeta is Meta without the MIME tree and the
// IMAP strings, on every corpus message and on tricky strings.
func TestViewMetaMatchesMeta(t *testing.T) {
	ms := viewCorpus(t)
	tricky := `"}],"root":{"x":1},"text":"evil\\"` + "\\\u00e9\n{["
	meta := mimetree.Meta{Size: 1, Root: &mimetree.Part{}, Envelope: tricky, BodyStructure: tricky, Body: `"`,
		Headers: []mimetree.Header{{Key: "root", Value: tricky}}, Subject: tricky, Text: tricky, HTML: []string{tricky}}
	raw, _ := json.Marshal(&meta)
	ms = append(ms, &store.Message{Meta: raw})
	withText := 0
	for _, m := range ms {
		full, err := mail.Meta(m)
		if err != nil {
			t.Fatal(err)
		}
		view, err := mail.ViewMeta(m)
		if err != nil {
			t.Fatal(err)
		}
		if view.Root != nil || view.Envelope != "" || view.BodyStructure != "" || view.Body != "" {
			t.Fatalf("message %s: view kept the tree or the IMAP strings", m.ID)
		}
		full.Root, full.Envelope, full.BodyStructure, full.Body = nil, "", "", ""
		if !reflect.DeepEqual(view, full) {
			t.Fatalf("message %s: view\n%+v\nwant\n%+v", m.ID, view, full)
		}
		if full.Text != "" {
			withText++
		}
	}
	if withText < 5 {
		t.Fatalf("only %d messages with text", withText)
	}
	for _, in := range []string{``, `[]`, `{`, `{"root":{"a":[1,2}`, `{"text":"x"`, `{"text":1}`} {
		if v, err := mail.ViewMeta(&store.Message{Meta: []byte(in)}); err == nil {
			t.Errorf("%q: no error, got %+v", in, v)
		}
	}
}

// BenchmarkMessageView compares decoding all of Meta with ViewMeta, per
// message over the corpus.
func BenchmarkMessageView(b *testing.B) {
	ms := viewCorpus(b)
	run := func(name string, f func(*store.Message) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := f(ms[i%len(ms)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("meta", func(m *store.Message) error { _, err := mail.Meta(m); return err })
	run("view", func(m *store.Message) error { _, err := mail.ViewMeta(m); return err })
}
