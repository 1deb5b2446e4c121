package imap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/eidermail/eider/mail/store"
)

// corpusDir holds the shared MIME corpus (a copy of /work/shared/corpus).
var corpusDir = filepath.Join("..", "mail", "mimetree", "testdata", "corpus")

// corpusFiles lists the corpus messages, sorted.
func corpusFiles(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, filepath.Join(corpusDir, e.Name()))
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("empty corpus")
	}
	return out
}

// TestFetchCorpusPython appends every corpus message with Python's imaplib
// and fetches it back: BODY[] is byte-identical to what imaplib sent (it
// turns bare LF into CRLF, so the file with that change), RFC822.SIZE is
// its size, HEADER + TEXT rebuild the file, RFC822.HEADER equals
// BODY[HEADER], partial fetches return the right slices, and APPENDUID
// names the UID that FETCH reports.
func TestFetchCorpusPython(t *testing.T) {
	e := newTestEnv(t, nil)
	files := corpusFiles(t)
	out := e.python(`
import re
files = os.environ["FILES"].split("\n")
M = login()
uids = []
def one(seq, item):
    typ, data = M.fetch(seq, "(" + item + ")")
    assert typ == "OK", data
    if isinstance(data[0], tuple):
        return data[0][1]
    assert data[0].endswith(b' ""' + b")"), data
    return b""
def sent(f):
    return imaplib.MapCRLF.sub(imaplib.CRLF, open(f, "rb").read())
for f in files:
    raw = open(f, "rb").read()
    typ, data = M.append("INBOX", "(\\Flagged $Label1)", '"01-Feb-2024 10:11:12 +0100"', raw)
    assert typ == "OK", (f, typ, data)
    m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
    assert m, data
    uids.append(int(m.group(2)))
typ, data = M.select("INBOX")
assert typ == "OK"
assert int(data[0]) == len(files), data
exact = 0
for i, f in enumerate(files):
    raw = sent(f)
    seq = str(i + 1)
    typ, data = M.fetch(seq, "(UID RFC822.SIZE INTERNALDATE FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    meta, body = data[0]
    assert body == raw, (f, len(body), len(raw))
    assert b"RFC822.SIZE %d" % len(raw) in meta, (f, meta)
    assert b"UID %d" % uids[i] in meta, (f, meta, uids[i])
    # the same instant (the store keeps the time, not the zone)
    d = imaplib.Internaldate2tuple(meta)
    assert d is not None and time.mktime(d) == time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "01-Feb-2024 10:11:12 +0100"')), meta
    assert b"\\Flagged" in meta and b"$Label1" in meta and b"\\Seen" not in meta, meta
    # header / text split at the first empty line
    cut = [p for p in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if p >= 0]
    hend = min(cut) if cut else len(raw)
    hend += 4 if raw[hend:hend+4] == b"\r\n\r\n" else 2
    parts = [(None, one(seq, it)) for it in ("BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "RFC822.HEADER")]
    assert parts[0][1] + parts[1][1] == raw, f
    assert parts[2][1] == parts[0][1], f
    if parts[0][1] == raw[:hend]:
        exact += 1
    else:
        # a header without an empty line after it (the corpus has one)
        # ends at the first line that is not a header field
        assert raw[:hend].startswith(parts[0][1]) and not parts[0][1].endswith(b"\n\n"), (f, parts[0][1], raw[:hend][:200])
    for off, n in ((0, 1), (7, 100), (len(raw) - 3, 50), (len(raw) + 10, 5)):
        typ, data = M.fetch(seq, "(BODY.PEEK[]<%d.%d>)" % (off, n))
        assert typ == "OK", data
        if isinstance(data[0], tuple):
            got = data[0][1]
            assert (b"BODY[]<%d>" % off) in data[0][0], data[0][0]
        else:
            got = b""
            assert b'BODY[]<%d> ""' % off in data[0], data
        assert got == raw[off:off+n], (f, off, n, got, raw[off:off+n])
    typ, data = M.fetch(seq, "(FLAGS)")
    assert b"\\Seen" not in data[0], data
assert exact >= len(files) - 2, exact
print("checked", len(files))
`, "FILES="+strings.Join(files, "\n"))
	if !strings.Contains(out, fmt.Sprintf("checked %d", len(files))) {
		t.Fatalf("python output: %s", out)
	}
}

// TestFetchStructureGoIMAP appends every corpus message with go-imap's
// client (which sends the file unchanged), checks that APPENDUID and
// BODY[] give back the exact file, then fetches ENVELOPE and BODYSTRUCTURE
// (which the client must parse) and checks
// them against Go's own parsers (net/mail, mime/multipart): Message-ID,
// media type, the number of top-level parts, and, for every top-level
// part, that BODY.PEEK[n] is byte-identical to the raw part and its length
// is the size BODYSTRUCTURE announces.
func TestFetchStructureGoIMAP(t *testing.T) {
	e := newTestEnv(t, nil)
	files := corpusFiles(t)
	raws := make([][]byte, len(files))
	c := e.client(nil)
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = b
		ac := c.Append("INBOX", int64(len(b)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft}})
		if _, err := ac.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := ac.Close(); err != nil {
			t.Fatal(err)
		}
		ad, err := ac.Wait()
		if err != nil {
			t.Fatalf("append %s: %v", f, err)
		}
		if ad.UID != imap.UID(i+1) || ad.UIDValidity != e.mailbox(e.alice, "INBOX").UIDValidity {
			t.Errorf("APPENDUID %d %d for message %d", ad.UIDValidity, ad.UID, i+1)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	bodies, err := c.Fetch(seqRange(1, uint32(len(files))), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{whole}, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range bodies {
		if got := m.FindBodySection(whole); !bytes.Equal(got, raws[m.SeqNum-1]) {
			t.Errorf("%s: BODY[] (%d bytes) differs from the file (%d bytes)", files[m.SeqNum-1], len(got), len(raws[m.SeqNum-1]))
		}
		if !slices.Equal(m.Flags, []imap.Flag{imap.FlagDraft}) {
			t.Errorf("%s: flags %v", files[m.SeqNum-1], m.Flags)
		}
	}
	msgs, err := c.Fetch(seqRange(1, uint32(len(files))), &imap.FetchOptions{
		UID: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, RFC822Size: true,
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(files) {
		t.Fatalf("%d FETCH responses for %d messages", len(msgs), len(files))
	}
	checkedParts, checkedMessages := 0, 0
	for i, m := range msgs {
		raw, name := raws[m.SeqNum-1], filepath.Base(files[m.SeqNum-1])
		if m.RFC822Size != int64(len(raw)) {
			t.Errorf("%s: RFC822.SIZE %d, file %d", name, m.RFC822Size, len(raw))
		}
		pm, perr := mail.ReadMessage(bytes.NewReader(raw))
		if perr != nil {
			t.Logf("%s: net/mail cannot parse it (%v); only the structure is checked", name, perr)
		}
		if m.Envelope == nil || m.BodyStructure == nil {
			t.Fatalf("%s: no envelope or bodystructure: %+v", name, msgs[i])
		}
		if perr != nil {
			continue
		}
		if id := strings.TrimSpace(pm.Header.Get("Message-Id")); strings.HasPrefix(id, "<") && strings.HasSuffix(id, ">") && strings.Contains(id, "@") &&
			!strings.Contains(id, " ") && m.Envelope.MessageID != strings.Trim(id, "<>") {
			t.Errorf("%s: envelope Message-ID %q, header %q", name, m.Envelope.MessageID, id)
		}
		ct := pm.Header.Get("Content-Type")
		mt, params, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil {
			continue
		}
		if got := m.BodyStructure.MediaType(); got != mt && !strings.HasPrefix(mt, "multipart/") {
			t.Errorf("%s: BODYSTRUCTURE type %s, Content-Type %s", name, got, mt)
		}
		mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
		if !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
			continue
		}
		if !ok {
			t.Errorf("%s: %s is not a multipart BODYSTRUCTURE", name, mt)
			continue
		}
		// The raw parts, as Go's multipart reader splits them.
		mr := multipart.NewReader(pm.Body, params["boundary"])
		var parts [][]byte
		var rerr error
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				rerr = err
				break
			}
			b, err := io.ReadAll(p)
			if err != nil {
				rerr = err
				break
			}
			parts = append(parts, b)
		}
		if rerr != io.EOF || len(parts) != len(mp.Children) {
			// The corpus has deliberately broken multiparts (nested parts
			// reusing the outer boundary, no delimiter at all) where Go's
			// reader is no authority.
			t.Logf("%s: %d parts in BODYSTRUCTURE, Go's reader finds %d (%v): not compared", name, len(mp.Children), len(parts), rerr)
			continue
		}
		checkedMessages++
		for j, child := range mp.Children {
			sec := &imap.FetchItemBodySection{Part: []int{j + 1}, Peek: true}
			got, err := c.Fetch(imap.SeqSetNum(m.SeqNum), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
			if err != nil || len(got) != 1 {
				t.Fatalf("%s: fetch part %d: %v", name, j+1, err)
			}
			body := got[0].FindBodySection(sec)
			// Go's reader hides the line break before a delimiter the same
			// way IMAP does (RFC 2046 §5.1.1).
			if !bytes.Equal(body, parts[j]) {
				t.Errorf("%s: BODY[%d] (%d bytes) differs from the raw part (%d bytes)", name, j+1, len(body), len(parts[j]))
			}
			if sp, ok := child.(*imap.BodyStructureSinglePart); ok && int64(len(body)) != int64(sp.Size) {
				t.Errorf("%s: BODY[%d] has %d bytes, BODYSTRUCTURE says %d", name, j+1, len(body), sp.Size)
			}
			checkedParts++
		}
	}
	if checkedMessages < 5 || checkedParts < 10 {
		t.Fatalf("only %d multipart messages (%d parts) compared", checkedMessages, checkedParts)
	}
}

// headerFieldsMessage has a folded field, repeated fields and a field
// name in odd case, to check HEADER.FIELDS byte for byte.
const headerFieldsMessage = "Received: from a\r\n\tby b\r\nFrom: Bob <bob@example.org>\r\nsubject: Folded\r\n subject line\r\n" +
	"To: alice@example.com\r\nX-Extra: 1\r\nReceived: from c\r\n\r\nbody line\r\n"

func TestFetchHeaderFieldsAndMIME(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", headerFieldsMessage)
	multi := "From: a@example.org\r\nSubject: multi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--XX\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Subject: inner\r\nFrom: c@example.org\r\n\r\ninner body\r\n--XX--\r\n"
	e.appendMsg(e.alice, "INBOX", multi)
	r := e.raw()
	r.login()
	r.expectOK("s1 SELECT INBOX")
	lit := func(name, body string) string { return fmt.Sprintf("%s {%d}\r\n%s", name, len(body), body) }
	tests := []struct{ cmd, want string }{
		{"f1 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT received)]",
			lit("BODY[HEADER.FIELDS (SUBJECT received)]", "Received: from a\r\n\tby b\r\nsubject: Folded\r\n subject line\r\nReceived: from c\r\n\r\n")},
		{"f2 FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (Received Subject X-Extra)]",
			lit("BODY[HEADER.FIELDS.NOT (Received Subject X-Extra)]", "From: Bob <bob@example.org>\r\nTo: alice@example.com\r\n\r\n")},
		{"f3 FETCH 1 BODY.PEEK[HEADER.FIELDS (To)]<4.10>", lit("BODY[HEADER.FIELDS (To)]<4>", "alice@exam")},
		{"f4 FETCH 1 BODY.PEEK[HEADER.FIELDS (Nope)]", lit("BODY[HEADER.FIELDS (Nope)]", "\r\n")},
		{"f5 FETCH 2 BODY.PEEK[1]", lit("BODY[1]", "first")},
		{"f6 FETCH 2 BODY.PEEK[1.MIME]", lit("BODY[1.MIME]", "Content-Type: text/plain\r\n\r\n")},
		{"f7 FETCH 2 BODY.PEEK[2.HEADER]", lit("BODY[2.HEADER]", "Subject: inner\r\nFrom: c@example.org\r\n\r\n")},
		{"f8 FETCH 2 BODY.PEEK[2.TEXT]", lit("BODY[2.TEXT]", "inner body")},
		{"f9 FETCH 2 BODY.PEEK[2.1]", lit("BODY[2.1]", "inner body")},
		{"f10 FETCH 2 BODY.PEEK[2.HEADER.FIELDS (From)]", lit("BODY[2.HEADER.FIELDS (From)]", "From: c@example.org\r\n\r\n")},
		{"f11 FETCH 2 BODY.PEEK[7]", "BODY[7] NIL"},
		{"f12 FETCH 2 BODY.PEEK[1.HEADER]", "BODY[1.HEADER] NIL"},
		{"f13 FETCH 2 BODY.PEEK[2.1]<6.100>", lit("BODY[2.1]<6>", "body")},
	}
	for _, tc := range tests {
		tag, _, _ := strings.Cut(tc.cmd, " ")
		r.send(tc.cmd)
		got := r.readResponse(tag)
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
		if !strings.Contains(got, tag+" OK") {
			t.Errorf("%s: not OK: %q", tc.cmd, got)
		}
	}
}

// readResponse reads raw bytes up to and including the tagged line,
// following literals, and returns them as one string.
func (c *rawClient) readResponse(tag string) string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		b.WriteString(l)
		b.WriteString("\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return b.String()
		}
		if n, ok := literalSize(l); ok {
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatalf("read literal: %v", err)
			}
			b.Write(buf)
			// the line continues after the literal
			rest := c.line()
			b.WriteString(rest)
			b.WriteString("\r\n")
			for {
				m, ok := literalSize(rest)
				if !ok {
					break
				}
				buf := make([]byte, m)
				if _, err := io.ReadFull(c.r, buf); err != nil {
					c.t.Fatalf("read literal: %v", err)
				}
				b.Write(buf)
				rest = c.line()
				b.WriteString(rest)
				b.WriteString("\r\n")
			}
		}
	}
}

// literalSize reports the size of a literal announced at the end of line.
func literalSize(l string) (int, bool) {
	if !strings.HasSuffix(l, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(l[i:], "{%d}", &n); err != nil {
		return 0, false
	}
	return n, true
}

// TestFetchSetsSeen: a non-PEEK body fetch sets \Seen in a SELECTed
// mailbox and reports the new FLAGS in the same response (RFC 3501
// §6.4.5); BODY.PEEK and EXAMINE change nothing.
func TestFetchSetsSeen(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 0; i < 3; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("seen %d", i)))
	}
	r := e.raw()
	r.login()
	r.expectOK("e1 EXAMINE INBOX")
	r.send("e3 FETCH 1 BODY[TEXT]")
	if got := r.readResponse("e3"); strings.Contains(got, `\Seen`) || !strings.Contains(got, "e3 OK") {
		t.Errorf("EXAMINE FETCH BODY[]: %q", got)
	}
	r.expectOK("s1 SELECT INBOX")
	r.send("s2 FETCH 1 BODY.PEEK[TEXT]")
	if got := r.readResponse("s2"); strings.Contains(got, `\Seen`) {
		t.Errorf("BODY.PEEK set \\Seen: %q", got)
	}
	r.send("s3 FETCH 2 (UID BODY[TEXT])")
	got := r.readResponse("s3")
	if !strings.Contains(got, `FLAGS (\Seen)`) {
		t.Errorf("FETCH BODY[TEXT] did not report \\Seen: %q", got)
	}
	r.send("s4 FETCH 3 RFC822")
	if got := r.readResponse("s4"); !strings.Contains(got, `FLAGS (\Seen)`) || !strings.Contains(got, "RFC822 {") {
		t.Errorf("FETCH RFC822: %q", got)
	}
	// The store agrees, and the session does not repeat the change.
	out2 := r.cmd("s5 FETCH 1:3 FLAGS")
	want := []string{`* 1 FETCH (FLAGS ())`, `* 2 FETCH (FLAGS (\Seen))`, `* 3 FETCH (FLAGS (\Seen))`}
	for _, w := range want {
		if !hasLine(out2, w) {
			t.Errorf("FLAGS after fetches: %q lacks %q", out2, w)
		}
	}
	if len(out2) != 4 {
		t.Errorf("unexpected extra responses: %q", out2)
	}
	// Again: no second FLAGS item when \Seen is already set.
	r.send("s6 FETCH 2 BODY[TEXT]")
	if got := r.readResponse("s6"); strings.Contains(got, "FLAGS") {
		t.Errorf("FLAGS reported although nothing changed: %q", got)
	}
}

// TestFetchMacrosModSeqChangedSince checks ALL/FAST/FULL, MODSEQ and
// CHANGEDSINCE with go-imap's client and raw lines.
func TestFetchMacrosModSeqChangedSince(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 0; i < 4; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("macro %d", i)))
	}
	r := e.raw()
	r.login()
	r.expectOK("s1 SELECT INBOX")
	for _, tc := range []struct{ macro, must, mustNot string }{
		{"FAST", "RFC822.SIZE", "ENVELOPE"},
		{"ALL", "ENVELOPE (", "BODY ("},
		{"FULL", "BODY (", "BODYSTRUCTURE"},
	} {
		out := r.expectOK("m FETCH 1 " + tc.macro)
		if !hasLine(out, tc.must) || !hasLine(out, "INTERNALDATE") || !hasLine(out, "FLAGS") || hasLine(out, tc.mustNot) {
			t.Errorf("FETCH %s: %q", tc.macro, out)
		}
	}
	r.expectOK(`st UID STORE 3 +FLAGS.SILENT (\Flagged)`)
	out := r.expectOK("c1 FETCH 1:* (FLAGS) (CHANGEDSINCE 4)")
	n := 0
	for _, l := range out {
		if strings.HasPrefix(l, "* ") && strings.Contains(l, " FETCH (") {
			n++
		}
	}
	if n != 1 || !hasLine(out, "* 3 FETCH (FLAGS (\\Flagged) MODSEQ (") {
		t.Errorf("CHANGEDSINCE: %q", out)
	}
	out = r.expectOK("c2 UID FETCH 1:* MODSEQ")
	if len(out) != 5 || !strings.Contains(out[0], "UID 1 MODSEQ (") {
		t.Errorf("UID FETCH MODSEQ: %q", out)
	}

	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(1, 2, 3, 4), &imap.FetchOptions{ModSeq: true, Flags: true, UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var max uint64
	for _, m := range msgs {
		if m.ModSeq == 0 {
			t.Errorf("uid %d: no MODSEQ", m.UID)
		}
		max = max2(max, m.ModSeq)
	}
	if !slices.Contains(msgs[2].Flags, imap.FlagFlagged) || msgs[2].ModSeq != max {
		t.Errorf("message 3 (stored last) should have the highest MODSEQ: %+v", msgs)
	}
}

func max2(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestFetchExpungedByOtherSession: session A still numbers a message that
// session B expunged; A's FETCH returns the others and "NO
// [EXPUNGEISSUED]", holds the EXPUNGE back during FETCH/STORE/SEARCH
// (RFC 3501 §7.4.1), and sends it at the next NOOP.
func TestFetchExpungedByOtherSession(t *testing.T) {
	e := newTestEnv(t, nil)
	for i := 0; i < 3; i++ {
		e.appendMsg(e.alice, "INBOX", testMessage(fmt.Sprintf("exp %d", i)))
	}
	a := e.raw()
	a.login()
	a.expectOK("a1 SELECT INBOX")
	b := e.raw()
	b.login()
	b.expectOK("b1 SELECT INBOX")
	b.expectOK(`b2 STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.expectOK("b3 EXPUNGE")

	out := a.cmd("a2 FETCH 1:3 (UID FLAGS)")
	last := out[len(out)-1]
	if !strings.HasPrefix(last, "a2 NO [EXPUNGEISSUED]") || !hasLine(out, "* 1 FETCH (UID 1 ") || !hasLine(out, "* 3 FETCH (UID 3 ") || hasExpunge(out) {
		t.Errorf("FETCH over an expunged message: %q", out)
	}
	out = a.cmd(`a3 STORE 1:3 +FLAGS (\Answered)`)
	if !strings.HasPrefix(out[len(out)-1], "a3 OK") || hasLine(out, "* 2 FETCH") || hasExpunge(out) {
		t.Errorf("STORE over an expunged message: %q", out)
	}
	out = a.cmd("a4 SEARCH ALL")
	if !hasLine(out, "* SEARCH 1 3") || hasExpunge(out) {
		t.Errorf("SEARCH with a held-back expunge: %q", out)
	}
	out = a.cmd("a5 COPY 1:3 Trash")
	if !strings.HasPrefix(out[len(out)-1], "a5 NO [EXPUNGEISSUED]") {
		t.Errorf("COPY over an expunged message: %q", out)
	}
	// COPY may carry EXPUNGE responses (RFC 3501 §7.4.1): it releases it.
	if !hasLine(out, "* 2 EXPUNGE") {
		t.Errorf("COPY did not release the held-back EXPUNGE: %q", out)
	}
	out = a.expectOK("a6 NOOP")
	if hasExpunge(out) {
		t.Errorf("EXPUNGE sent twice: %q", out)
	}
	out = a.expectOK("a7 FETCH 1:2 UID")
	if !hasLine(out, "* 2 FETCH (UID 3)") {
		t.Errorf("renumbering after EXPUNGE: %q", out)
	}
	if n := e.count(e.alice, "Trash"); n != 0 {
		t.Errorf("refused COPY copied %d messages", n)
	}
	// UID FETCH skips the vanished UID without an error, and may carry the
	// EXPUNGE (RFC 3501 §6.4.8), after the FETCH data.
	b.expectOK(`b4 UID STORE 1 +FLAGS.SILENT (\Deleted)`)
	b.expectOK("b5 EXPUNGE")
	out = a.expectOK("a8 UID FETCH 1:* (UID)")
	if slices.Contains(out, "* 1 FETCH (UID 1)") || !slices.Contains(out, "* 2 FETCH (UID 3)") {
		t.Errorf("UID FETCH over an expunged UID: %q", out)
	}
	if x := slices.Index(out, "* 1 EXPUNGE"); x < 0 || x < slices.Index(out, "* 2 FETCH (UID 3)") {
		t.Errorf("UID FETCH: EXPUNGE missing or before the data: %q", out)
	}
}

// count returns the number of messages in a mailbox of u.
func (e *testEnv) count(u *store.User, name string) int64 {
	e.t.Helper()
	n, err := e.svc.Store.Counters(context.Background(), u.ID, e.mailbox(u, name).ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return n.Total
}

// seqRange is the go-imap sequence set a:b.
func seqRange(a, b uint32) imap.SeqSet {
	var s imap.SeqSet
	s.AddRange(a, b)
	return s
}

// hasExpunge reports whether lines hold an untagged EXPUNGE response.
func hasExpunge(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "* ") && strings.HasSuffix(l, " EXPUNGE") {
			return true
		}
	}
	return false
}

// TestFetchLargeMessageStreamed: a message with a 3 MiB attachment (kept
// in the blob store) comes back byte for byte, whole, by part and in
// partial slices that cross blob boundaries.
func TestFetchLargeMessageStreamed(t *testing.T) {
	e := newTestEnv(t, nil)
	var att strings.Builder
	line := 0
	for att.Len() < 3<<20 {
		fmt.Fprintf(&att, "%075d\r\n", line) // 77 bytes a line, all distinct
		line++
	}
	body := att.String()
	raw := "From: big@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\n" +
		body + "\r\n--B--\r\n"
	e.appendMsg(e.alice, "INBOX", raw)
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	part2 := &imap.FetchItemBodySection{Peek: true, Part: []int{2}}
	slice := &imap.FetchItemBodySection{Peek: true, Part: []int{2}, Partial: &imap.SectionPartial{Offset: 1_000_003, Size: 700_000}}
	tail := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: int64(len(raw) - 10), Size: 100}}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{whole, part2, slice, tail}, RFC822Size: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	m := msgs[0]
	if m.RFC822Size != int64(len(raw)) {
		t.Errorf("RFC822.SIZE %d, want %d", m.RFC822Size, len(raw))
	}
	check := func(name string, got []byte, want string) {
		if string(got) != want {
			t.Errorf("%s: %d bytes, want %d (equal prefix: %v)", name, len(got), len(want), strings.HasPrefix(want, string(got)))
		}
	}
	check("BODY[]", m.FindBodySection(whole), raw)
	check("BODY[2]", m.FindBodySection(part2), body)
	check("BODY[2]<1000003.700000>", m.FindBodySection(slice), body[1_000_003:1_700_003])
	check("BODY[]<tail>", m.FindBodySection(tail), raw[len(raw)-10:])
}

// TestSequenceSetOnEmptyMailbox: in an empty mailbox a message sequence
// set, "*" included, is BAD for FETCH, STORE and COPY (RFC 9051 §9: "*"
// is the number of messages in a non-empty mailbox; Dovecot answers the
// same, see TestCompareWithDovecot), while UID FETCH 1:* and SEARCH 1:*
// succeed with nothing.
func TestSequenceSetOnEmptyMailbox(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	r.login()
	r.expectOK("c CREATE Empty")
	r.expectOK("s SELECT Empty")
	for i, c := range []string{"FETCH 1:* (FLAGS)", "FETCH * (FLAGS)", "FETCH 1 (FLAGS)", `STORE * +FLAGS (\Seen)`, "COPY 1:* INBOX"} {
		tag := fmt.Sprintf("b%d", i)
		out := r.cmd(tag + " " + c)
		if !strings.HasPrefix(out[len(out)-1], tag+" BAD") || len(out) != 1 {
			t.Errorf("%s on an empty mailbox: %q, want BAD alone", c, out)
		}
	}
	if out := r.expectOK("u UID FETCH 1:* (FLAGS)"); len(out) != 1 {
		t.Errorf("UID FETCH 1:* on an empty mailbox: %q", out)
	}
	if out := r.expectOK("q SEARCH 1:*"); len(out) != 2 || out[0] != "* SEARCH" {
		t.Errorf("SEARCH 1:* on an empty mailbox: %q", out)
	}
	r.expectOK("n NOOP") // BADs did not end the session
}
