package mimetree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func corpusFiles(t testing.TB) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "corpus")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) < 20 {
		t.Fatalf("corpus has only %d files", len(out))
	}
	return out
}

// The testdata copy must match the shared corpus when it is present.
func TestCorpusCopyInSync(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "corpus", "mime")
	ents, err := os.ReadDir(shared)
	if err != nil {
		t.Skipf("shared corpus not present: %v", err)
	}
	local := corpusFiles(t)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(shared, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(local[e.Name()], b) {
			t.Errorf("testdata/corpus/%s differs from shared corpus", e.Name())
		}
	}
}

func TestCorpusRoundTrip(t *testing.T) {
	files := corpusFiles(t)
	rng := rand.New(rand.NewSource(1))
	for _, inlineMax := range []int64{64, 0} {
		store := newMemStore()
		totalBlobs := 0
		for name, raw := range files {
			lim := Limits{InlineMax: inlineMax}
			pr, err := Parse(context.Background(), bytes.NewReader(raw), store, lim)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			checkParsed(t, raw, store, pr)
			totalBlobs += len(pr.Blobs)
			if inlineMax == 0 && len(raw) < 16<<10 && len(pr.Blobs) != 0 {
				t.Errorf("%s: %d blobs with default InlineMax for a %d-byte message", name, len(pr.Blobs), len(raw))
			}
			for i := 0; i < 50; i++ {
				off := rng.Int63n(int64(len(raw)) + 1)
				n := rng.Int63n(int64(len(raw)) - off + 1)
				got := readAll(t, ReadRange(context.Background(), store, pr.Segments, off, n))
				if !bytes.Equal(got, raw[off:off+n]) {
					t.Fatalf("%s: ReadRange(%d,%d) = %q want %q", name, off, n, got, raw[off:off+n])
				}
			}
			// Ranges running past the end are clipped.
			got := readAll(t, ReadRange(context.Background(), store, pr.Segments, int64(len(raw))-3, 100))
			if !bytes.Equal(got, raw[len(raw)-3:]) {
				t.Fatalf("%s: clipped range = %q", name, got)
			}
		}
		if inlineMax == 64 && totalBlobs < 5 {
			t.Errorf("InlineMax=64 produced only %d blobs over the corpus", totalBlobs)
		}
		for h, n := range store.pinned {
			if n <= 0 {
				t.Errorf("blob %s pin count %d after successful parses", h, n)
			}
		}
	}
}

func TestCorpusStructure(t *testing.T) {
	files := corpusFiles(t)
	// msg_33: RFC 2231 encoded boundary*= must still split the parts.
	pr := parseString(t, string(files["msg_33.txt"]), nil, Limits{})
	if n := len(pr.Meta.Root.Children); n != 2 {
		t.Fatalf("msg_33: %d parts, want 2", n)
	}
	if got := pr.Meta.Root.Params["boundary"]; got != "EeQfGwPcQSOJBaQU" {
		t.Fatalf("msg_33 boundary = %q", got)
	}
	// msg_39: nested multiparts reuse the same boundary string.
	pr = parseString(t, string(files["msg_39.txt"]), nil, Limits{})
	root := pr.Meta.Root
	if len(root.Children) != 2 || len(root.Children[0].Children) != 3 {
		t.Fatalf("msg_39 structure: %s", pr.Meta.Body)
	}
	for i, alt := range root.Children[0].Children {
		if alt.Subtype != "alternative" || len(alt.Children) != 2 {
			t.Fatalf("msg_39 part 1.%d: %s/%s with %d children", i+1, alt.Type, alt.Subtype, len(alt.Children))
		}
	}
	if p, err := pr.Meta.FindPart("1.3.2"); err != nil || p.Description != "patch6" {
		t.Fatalf("msg_39 FindPart(1.3.2) = %+v, %v", p, err)
	}
	// msg_07: image attachment, decoded size exact.
	pr = parseString(t, string(files["msg_07.txt"]), nil, Limits{})
	if len(pr.Meta.Attachments) != 1 {
		t.Fatalf("msg_07 attachments: %+v", pr.Meta.Attachments)
	}
	a := pr.Meta.Attachments[0]
	if a.Filename != "dingusfish.gif" || a.ContentType != "image/gif" || a.Part != "2" || a.ID != "ATT00001" {
		t.Fatalf("msg_07 attachment: %+v", a)
	}
	raw := string(files["msg_07.txt"])
	b64 := sectionBytes(t, pr.Meta, raw, "2", "")
	dec := decodeB64Std(t, b64)
	if a.Size != int64(len(dec)) || !bytes.HasPrefix(dec, []byte("GIF8")) {
		t.Fatalf("msg_07 attachment size %d, decoded %d bytes (prefix %q)", a.Size, len(dec), dec[:6])
	}
	if !pr.Meta.HasAttachments {
		t.Fatal("msg_07: HasAttachments false")
	}
}

func TestLineEndings(t *testing.T) {
	for _, eol := range []string{"\r\n", "\n"} {
		raw := strings.ReplaceAll("From: a@b.c\nSubject: hi\nContent-Type: multipart/mixed; boundary=XX\n\npreamble\n--XX\nContent-Type: text/plain\n\nline one\nline two\n--XX\n\nsecond\n--XX--\nepilogue\n", "\n", eol)
		pr := parseString(t, raw, nil, Limits{})
		m := pr.Meta
		if got := sectionBytes(t, m, raw, "1", ""); got != "line one"+eol+"line two" {
			t.Errorf("eol %q: BODY[1] = %q", eol, got)
		}
		p1, _ := m.FindPart("1")
		if p1.Lines != 1 || p1.Size != int64(len("line one"+eol+"line two")) {
			t.Errorf("eol %q: part 1 lines=%d size=%d", eol, p1.Lines, p1.Size)
		}
		if got := sectionBytes(t, m, raw, "1", "MIME"); got != "Content-Type: text/plain"+eol+eol {
			t.Errorf("eol %q: BODY[1.MIME] = %q", eol, got)
		}
		if got := sectionBytes(t, m, raw, "2", ""); got != "second" {
			t.Errorf("eol %q: BODY[2] = %q", eol, got)
		}
		if got := sectionBytes(t, m, raw, "", "HEADER"); !strings.HasSuffix(got, "boundary=XX"+eol+eol) || !strings.HasPrefix(got, "From:") {
			t.Errorf("eol %q: BODY[HEADER] = %q", eol, got)
		}
		if got := sectionBytes(t, m, raw, "", "TEXT"); !strings.HasPrefix(got, "preamble") || !strings.HasSuffix(got, "epilogue"+eol) {
			t.Errorf("eol %q: BODY[TEXT] = %q", eol, got)
		}
		if m.Text != "line one\nline two\n\nsecond" {
			t.Errorf("eol %q: Text = %q", eol, m.Text)
		}
	}
	// Mixed endings, bare CR inside lines, no final newline.
	for _, raw := range []string{
		"Subject: x\r\nFrom: y\n\r\nbody\rwith CR\nlast line no newline",
		"Subject: x\n\n",
		"Subject: x",
		"\n",
		"\r\n\r\n",
		"",
		"no header at all just text",
		"Subject: x\r\n\r\nbody\r",
	} {
		pr := parseString(t, raw, newMemStore(), Limits{InlineMax: 4})
		if pr.Meta.Size != int64(len(raw)) {
			t.Errorf("%q: size %d", raw, pr.Meta.Size)
		}
	}
	pr := parseString(t, "Subject: x\r\nFrom: y\n\r\nbody\rwith CR\nlast line no newline", nil, Limits{})
	if pr.Meta.Subject != "x" || pr.Meta.Root.Lines != 1 {
		t.Errorf("mixed: subject %q lines %d", pr.Meta.Subject, pr.Meta.Root.Lines)
	}
	if pr := parseString(t, "", nil, Limits{}); len(pr.Segments) != 0 || pr.Meta.Size != 0 {
		t.Errorf("empty input: %d segments", len(pr.Segments))
	}
}

func TestHeaderWithoutBlankLine(t *testing.T) {
	raw := "Subject: only header\r\nFrom: a@b.c\r\n"
	pr := parseString(t, raw, nil, Limits{})
	r := pr.Meta.Root
	if r.HeaderEnd != int64(len(raw)) || r.Size != 0 {
		t.Fatalf("header end %d size %d", r.HeaderEnd, r.Size)
	}
	if pr.Meta.Subject != "only header" {
		t.Fatalf("subject %q", pr.Meta.Subject)
	}
	// Header-only body part inside a multipart, no blank line.
	raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b\n\nx\n--b--\n"
	pr = parseString(t, raw, nil, Limits{})
	if n := len(pr.Meta.Root.Children); n != 2 {
		t.Fatalf("%d children", n)
	}
	c := pr.Meta.Root.Children[0]
	if c.Subtype != "html" || c.Size != 0 {
		t.Fatalf("header-only part: %s size %d", c.Subtype, c.Size)
	}
}

func TestMultipartEdgeCases(t *testing.T) {
	// Missing final boundary, empty parts, padding after delimiters.
	raw := "Content-Type: multipart/mixed; boundary=\"a b\"\n\n--a b  \n\n--a b\t\nContent-Type: text/plain\n\nlast part runs to EOF\n"
	pr := parseString(t, raw, nil, Limits{})
	r := pr.Meta.Root
	if len(r.Children) != 2 {
		t.Fatalf("children %d", len(r.Children))
	}
	if r.Children[0].Size != 0 || r.Children[0].Lines != 0 {
		t.Errorf("empty part size %d lines %d", r.Children[0].Size, r.Children[0].Lines)
	}
	if got := sectionBytes(t, pr.Meta, raw, "2", ""); got != "last part runs to EOF\n" {
		t.Errorf("BODY[2] = %q", got)
	}
	// A boundary followed by other text is not a delimiter (RFC 2046 §5.1.1).
	raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx is content\n--b--\n"
	pr = parseString(t, raw, nil, Limits{})
	if len(pr.Meta.Root.Children) != 1 || sectionBytes(t, pr.Meta, raw, "1", "") != "--bx is content" {
		t.Errorf("prefix boundary: %s", pr.Meta.Body)
	}
	// Missing boundary parameter: a leaf.
	raw = "Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n"
	pr = parseString(t, raw, nil, Limits{})
	if !pr.Meta.Root.Opaque || len(pr.Meta.Root.Children) != 0 {
		t.Errorf("no boundary: opaque=%v", pr.Meta.Root.Opaque)
	}
	if want := `("application" "octet-stream" NIL NIL NIL "7BIT" 13 NIL NIL NIL NIL)`; pr.Meta.BodyStructure != want {
		t.Errorf("no boundary BODYSTRUCTURE:\n got %s\nwant %s", pr.Meta.BodyStructure, want)
	}
	// Nested multipart; inner ended by the outer boundary without its close.
	raw = "Content-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: multipart/alternative; boundary=in\n\n--in\n\nplain\n--in\nContent-Type: text/html\n\n<b>html</b>\n--out\nContent-Type: application/pdf\n\n%PDF\n--out--\n"
	pr = parseString(t, raw, nil, Limits{})
	m := pr.Meta
	if got := sectionBytes(t, m, raw, "1.2", ""); got != "<b>html</b>" {
		t.Errorf("BODY[1.2] = %q", got)
	}
	if got := sectionBytes(t, m, raw, "2", ""); got != "%PDF" {
		t.Errorf("BODY[2] = %q", got)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "attachment-1.pdf" || m.Attachments[0].Part != "2" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	if m.Text != "plain" || len(m.HTML) != 1 || m.HTML[0] != "<b>html</b>" {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
}

func TestMessageRFC822(t *testing.T) {
	raw := "From: outer@example.com\nSubject: fwd\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\nsee attached\n--zz\nContent-Type: message/rfc822\n\nFrom: Inner <inner@example.org>\nSubject: inner subject\nContent-Type: multipart/alternative; boundary=yy\n\n--yy\n\ninner text\n--yy\nContent-Type: text/html\n\n<p>x</p>\n--yy--\n--zz--\n"
	pr := parseString(t, raw, nil, Limits{})
	m := pr.Meta
	p2, err := m.FindPart("2")
	if err != nil || p2.Message == nil {
		t.Fatalf("part 2: %v", err)
	}
	if got := sectionBytes(t, m, raw, "2", "HEADER"); !strings.HasPrefix(got, "From: Inner") || !strings.HasSuffix(got, "boundary=yy\n\n") {
		t.Errorf("BODY[2.HEADER] = %q", got)
	}
	if got := sectionBytes(t, m, raw, "2.1", ""); got != "inner text" {
		t.Errorf("BODY[2.1] = %q", got)
	}
	if got := sectionBytes(t, m, raw, "2.2", "MIME"); got != "Content-Type: text/html\n\n" {
		t.Errorf("BODY[2.2.MIME] = %q", got)
	}
	if got := sectionBytes(t, m, raw, "2", "TEXT"); !strings.HasPrefix(got, "--yy\n") || !strings.HasSuffix(got, "--yy--") {
		t.Errorf("BODY[2.TEXT] = %q", got)
	}
	if _, _, err := m.SectionRange("1", "HEADER"); !errors.Is(err, ErrNoSection) {
		t.Errorf("1.HEADER on a text part: %v", err)
	}
	if _, err := m.FindPart("3"); err == nil {
		t.Error("FindPart(3) succeeded")
	}
	if _, err := m.FindPart("1.1"); err == nil {
		t.Error("FindPart(1.1) on a text leaf succeeded")
	}
	// Inner text is not the message text; the forwarded message is an attachment.
	if m.Text != "see attached" {
		t.Errorf("Text = %q", m.Text)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "message/rfc822" || m.Attachments[0].Filename != "attachment-1.eml" {
		t.Errorf("attachments %+v", m.Attachments)
	}
	if !strings.Contains(p2.Envelope, `"inner subject"`) || !strings.Contains(p2.Envelope, `(("Inner" NIL "inner" "example.org"))`) {
		t.Errorf("inner envelope %s", p2.Envelope)
	}
	// Non-multipart attached message: its body is 2.1.
	raw = "Content-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: message/rfc822\n\nSubject: s\n\nbody\n--zz--\n"
	pr = parseString(t, raw, nil, Limits{})
	if got := sectionBytes(t, pr.Meta, raw, "1.1", ""); got != "body" {
		t.Errorf("BODY[1.1] = %q", got)
	}
	// A top-level message/rfc822 (msg_11-like) and a digest default.
	raw = "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\nsecond\n--d--\n"
	pr = parseString(t, raw, nil, Limits{})
	for i, c := range pr.Meta.Root.Children {
		if c.Type != "message" || c.Message == nil {
			t.Fatalf("digest part %d is %s/%s", i+1, c.Type, c.Subtype)
		}
	}
	if got := sectionBytes(t, pr.Meta, raw, "2.1", ""); got != "second" {
		t.Errorf("digest BODY[2.1] = %q", got)
	}
}

func TestBrokenBase64AndQP(t *testing.T) {
	raw := "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nSGVsbG8g!!!d29y\nbGQ=junk=\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\nAw==\nBA\n--b\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 soft=\nbreak =ZZ trailing   \nend=\n--b--\n"
	pr := parseString(t, raw, nil, Limits{})
	m := pr.Meta
	if !strings.HasPrefix(m.Text, "Hello world") {
		t.Errorf("broken base64 text: %q", m.Text)
	}
	if !strings.Contains(m.Text, "café softbreak =ZZ trailing\nend") {
		t.Errorf("qp text: %q", m.Text)
	}
	// "AAEC" -> 3 bytes, "Aw==" -> 1, "BA" -> 1 (partial quantum at the end).
	if len(m.Attachments) != 1 || m.Attachments[0].Size != 5 {
		t.Errorf("attachments %+v", m.Attachments)
	}
}

func TestEncodedWordsAndRFC2231(t *testing.T) {
	raw := "From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.de>, \"Doe, John\" <john@x.org>\n" +
		"To: Team: a@b.c, =?ISO-8859-1?Q?Andr=E9?= <andre@c.fr>;, solo@x.y\n" +
		"Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?IOKCrA==?= ok\n" +
		"Cc: Ünïcode Name <ü@exämple.com>\n" +
		"X-Junk: \xff\xfe raw\n" +
		"this line has no colon\n" +
		"Date: Fri, 4 May 2001 14:05:44 -0400 (EDT)\n" +
		"Message-ID: <id1@host>\n" +
		"References: <r1@h> <r2@h>\n\t<r3@h>\n" +
		"Content-Type: multipart/mixed; boundary=q\n\n" +
		"--q\n\nbody\n" +
		"--q\nContent-Type: application/octet-stream; name=\"=?UTF-8?Q?r=C3=A9sum=C3=A9.doc?=\"\n\nx\n" +
		"--q\nContent-Type: application/pdf\nContent-Disposition: attachment;\n filename*0*=UTF-8''%E2%82%AC%20;\n filename*1=\"rates.pdf\"\n\ny\n" +
		"--q--\n"
	pr := parseString(t, raw, nil, Limits{})
	m := pr.Meta
	if m.Subject != "Café € ok" {
		t.Errorf("subject %q", m.Subject)
	}
	if len(m.From) != 2 || m.From[0].Name != "Jürgen" || m.From[0].Address != "j@example.de" || m.From[1].Name != "Doe, John" {
		t.Errorf("from %+v", m.From)
	}
	if len(m.To) != 3 || m.To[1].Name != "André" || m.To[2].Address != "solo@x.y" {
		t.Errorf("to %+v", m.To)
	}
	if len(m.Cc) != 1 || m.Cc[0].Name != "Ünïcode Name" || m.Cc[0].Address != "ü@exämple.com" {
		t.Errorf("cc %+v", m.Cc)
	}
	if m.Date.IsZero() || m.Date.UTC().Hour() != 18 {
		t.Errorf("date %v", m.Date)
	}
	if m.MessageID != "id1@host" || len(m.References) != 3 || m.References[2] != "r3@h" {
		t.Errorf("ids %q %q", m.MessageID, m.References)
	}
	var junk string
	for _, h := range m.Headers {
		if h.Key == "X-Junk" {
			junk = h.Value
		}
	}
	if junk != "\uFFFD raw" {
		t.Errorf("8-bit header kept as %q", junk)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "résumé.doc" || m.Attachments[1].Filename != "€ rates.pdf" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	// The ENVELOPE keeps raw text: encoded words intact, groups, 8-bit as literal.
	for _, want := range []string{
		`(("=?UTF-8?B?SsO8cmdlbg==?=" NIL "j" "example.de")("Doe, John" NIL "john" "x.org"))`,
		`((NIL NIL "Team" NIL)(NIL NIL "a" "b.c")("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "c.fr")(NIL NIL NIL NIL)(NIL NIL "solo" "x.y"))`,
		"(({14}\r\nÜnïcode Name NIL {2}\r\nü {12}\r\nexämple.com))",
	} {
		if !strings.Contains(m.Envelope, want) {
			t.Errorf("envelope lacks %q:\n%s", want, m.Envelope)
		}
	}
	// BODYSTRUCTURE keeps the RFC 2231 form under "filename*".
	if want := `("attachment" ("filename*" "UTF-8''%E2%82%AC%20rates.pdf"))`; !strings.Contains(m.BodyStructure, want) {
		t.Errorf("bodystructure lacks %s:\n%s", want, m.BodyStructure)
	}
}

func TestLimits(t *testing.T) {
	big := "Subject: x\n\n" + strings.Repeat("y", 1000)
	_, err := Parse(context.Background(), strings.NewReader(big), nil, Limits{MaxSize: 500})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "MaxSize" || le.Max != 500 || le.Error() != "message size exceeds limit of 500 bytes" {
		t.Fatalf("MaxSize: %v", err)
	}
	_, err = Parse(context.Background(), strings.NewReader("Subject: "+strings.Repeat("h", 300)+"\n\nbody"), nil, Limits{MaxHeader: 100})
	if !errors.As(err, &le) || le.Limit != "MaxHeader" {
		t.Fatalf("MaxHeader: %v", err)
	}
	// Exactly at the limit is fine.
	pr := parseString(t, big, nil, Limits{MaxSize: int64(len(big))})
	if pr.Meta.Size != int64(len(big)) {
		t.Fatal("size")
	}

	// Deep nesting beyond MaxDepth round-trips; deeper parts are opaque.
	var b strings.Builder
	const depth = 10
	for i := 0; i < depth; i++ {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\n\n--b" + string(rune('a'+i)) + "\n")
	}
	b.WriteString("\ninnermost\n")
	for i := depth - 1; i >= 0; i-- {
		b.WriteString("--b" + string(rune('a'+i)) + "--\n")
	}
	raw := b.String()
	pr = parseString(t, raw, newMemStore(), Limits{MaxDepth: 3, InlineMax: 8})
	d := 0
	p := pr.Meta.Root
	for p.IsMultipart() {
		p = p.Children[0]
		d++
	}
	if d != 3 || !p.Opaque {
		t.Fatalf("expanded depth %d (opaque=%v), want 3", d, p.Opaque)
	}
	pr = parseString(t, raw, nil, Limits{})
	if _, err := pr.Meta.FindPart("1.1.1.1.1.1.1.1.1.1"); err != nil {
		t.Fatalf("full depth: %v", err)
	}

	// MaxParts: the rest stays in the multipart, not an error.
	raw = "Content-Type: multipart/mixed; boundary=p\n\n--p\n\none\n--p\n\ntwo\n--p\n\nthree\n--p--\nepi\n"
	pr = parseString(t, raw, nil, Limits{MaxParts: 3})
	if r := pr.Meta.Root; len(r.Children) != 2 || !r.Truncated {
		t.Fatalf("MaxParts: %d children truncated=%v", len(r.Children), r.Truncated)
	}

	// Text cap.
	raw = "Subject: t\n\n" + strings.Repeat("word ", 1000)
	pr = parseString(t, raw, nil, Limits{MaxTextBytes: 100})
	if len(pr.Meta.Text) != 100 || len([]rune(pr.Meta.Intro)) > 256 {
		t.Fatalf("text %d bytes, intro %d", len(pr.Meta.Text), len(pr.Meta.Intro))
	}
}

func TestContextAndBlobFailures(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Parse(ctx, strings.NewReader("Subject: x\n\nbody"), nil, Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx: %v", err)
	}
	// The second blob fails to be created: the first is released, none leaks
	// an open writer.
	raw := "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n" + strings.Repeat("a", 200) + "\n--b\n\n" + strings.Repeat("b", 200) + "\n--b--\n"
	st := newMemStore()
	st.failAt = 2
	if _, err := Parse(context.Background(), strings.NewReader(raw), st, Limits{InlineMax: 100}); !errors.Is(err, errInjected) {
		t.Fatalf("blob failure: %v", err)
	}
	for h, n := range st.pinned {
		if n != 0 {
			t.Errorf("blob %s still pinned (%d) after failed parse", h, n)
		}
	}
	// Reading error surfaces.
	_, err := Parse(context.Background(), io.MultiReader(strings.NewReader("Subject: x\n\n"), errReader{}), nil, Limits{})
	if !errors.Is(err, errInjected) {
		t.Fatalf("read error: %v", err)
	}
	// A missing blob is an error on Read, not a panic.
	st = newMemStore()
	pr := parseString(t, "Subject: x\n\n"+strings.Repeat("z", 500), st, Limits{InlineMax: 100})
	if len(pr.Blobs) != 1 {
		t.Fatalf("blobs %v", pr.Blobs)
	}
	st.Delete(context.Background(), pr.Blobs[0])
	if _, err := io.ReadAll(Rebuild(context.Background(), st, pr.Segments)); err == nil {
		t.Fatal("rebuild with a missing blob succeeded")
	}
	if _, err := io.ReadAll(ReadRange(context.Background(), st, pr.Segments, -1, 5)); err == nil {
		t.Fatal("negative offset accepted")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errInjected }

// A large body is streamed to the blob store: the blob holds it, and ranges
// inside it open the blob at an offset.
func TestLargeBodyGoesToBlob(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 8192) // 128 KiB
	raw := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\n\r\n" + body + "\r\n--b--\r\n"
	st := newMemStore()
	pr := parseString(t, raw, st, Limits{})
	if len(pr.Blobs) != 1 || len(pr.Segments) != 3 {
		t.Fatalf("blobs %d segments %d", len(pr.Blobs), len(pr.Segments))
	}
	if got := st.blobs[pr.Blobs[0]]; string(got) != body+"\r\n" {
		t.Fatalf("blob holds %d bytes", len(got))
	}
	off, n, _ := pr.Meta.SectionRange("1", "")
	if n != int64(len(body)) {
		t.Fatalf("BODY[1] size %d", n)
	}
	st.opens = 0
	got := readAll(t, ReadRange(context.Background(), st, pr.Segments, off+1000, 10))
	if string(got) != body[1000:1010] || st.opens != 1 {
		t.Fatalf("range inside blob = %q (opens %d)", got, st.opens)
	}
	if pr.Meta.Attachments[0].Size != int64(len(body)) {
		t.Fatalf("attachment size %d", pr.Meta.Attachments[0].Size)
	}
}

func TestHTMLOnlyText(t *testing.T) {
	raw := "Content-Type: text/html; charset=iso-8859-1\n\n<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp;<b>w\xf6rld</b> &amp; friends</p><script>x()</script><div>Line  two</div></body></html>\n"
	pr := parseString(t, raw, nil, Limits{})
	if pr.Meta.Text != "Hello wörld & friends\n\nLine two" {
		t.Errorf("Text = %q", pr.Meta.Text)
	}
	if pr.Meta.Intro != "Hello wörld & friends Line two" {
		t.Errorf("Intro = %q", pr.Meta.Intro)
	}
	if len(pr.Meta.HTML) != 1 || !strings.Contains(pr.Meta.HTML[0], "w\u00f6rld") {
		t.Errorf("HTML = %q", pr.Meta.HTML)
	}
}

func TestRelatedAttachments(t *testing.T) {
	raw := "Content-Type: multipart/related; boundary=r\n\n--r\nContent-Type: text/html\n\n<img src=cid:img1>\n--r\nContent-Type: image/png\nContent-ID: <img1>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--r--\n"
	pr := parseString(t, raw, nil, Limits{})
	m := pr.Meta
	if len(m.Attachments) != 1 || !m.Attachments[0].Related || m.Attachments[0].ContentID != "img1" || m.Attachments[0].Filename != "attachment-1.png" || m.Attachments[0].Size != 8 {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	if m.HasAttachments {
		t.Fatal("inline related image counted as attachment")
	}
}
