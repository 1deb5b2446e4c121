package imap

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestFetchSearchMatchDovecot appends the whole MIME corpus to Eider and
// to Dovecot (Debian's dovecot-imapd, run pre-authenticated over a pipe by
// imaplib.IMAP4_stream with a throw-away configuration), then compares,
// message by message, the FETCH items in fetchDovecotItems and the SEARCH
// results of fetchDovecotSearches. Empty string, {0} and NIL count as the
// same, as do upper and lower case outside literals and literal vs
// literal8. Every other difference must be listed in
// fetchDovecotDifferences with its reason; a new one fails the test.
// Skipped without Dovecot or without root (Dovecot drops privileges to its
// own user, which must own the mail directory).
func TestFetchSearchMatchDovecot(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := os.Stat("/usr/lib/dovecot/imap"); err != nil {
		t.Skip("dovecot-imapd not installed")
	}
	dcUser, err := user.Lookup("dovecot")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and the dovecot user")
	}
	// Not t.TempDir(): its parent is private to root, and Dovecot's
	// process runs as the dovecot user.
	dir, err := os.MkdirTemp("", "eider-fetch-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mailDir := filepath.Join(dir, "Maildir")
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(mailDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", dcUser.Uid+":"+dcUser.Gid, mailDir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	conf := "protocols = imap\nssl = no\nmail_location = maildir:" + mailDir + "\nlog_path = " + filepath.Join(dir, "log") +
		"\nbase_dir = " + filepath.Join(dir, "run") + "\nmail_uid = dovecot\nmail_gid = dovecot\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n"
	if err := os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t, nil)
	out := e.python(fetchDovecotScript, "DC_DIR="+dir, "CORPUS="+corpusDir,
		"ITEMS="+strings.Join(fetchDovecotItems, "|"), "SEARCHES="+strings.Join(fetchDovecotSearches, "|"))
	same, unexplained := 0, 0
	seen := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "SAME "):
			same++
		case strings.HasPrefix(l, "DIFF "):
			f := strings.SplitN(strings.TrimPrefix(l, "DIFF "), "\t", 3)
			seen[f[0]] = true
			if why, ok := fetchDovecotDifferences[f[0]]; ok {
				t.Logf("known difference %s (%s)", f[0], why)
				continue
			}
			unexplained++
			t.Errorf("%s differs:\n  dovecot: %s\n  eider:   %s", f[0], f[1], f[2])
		}
	}
	if same < 300 {
		t.Errorf("only %d comparisons agreed: the script did not run through\n%s", same, out)
	}
	for k := range fetchDovecotDifferences {
		if !seen[k] {
			t.Errorf("listed difference %q no longer occurs: remove it", k)
		}
	}
	t.Logf("%d comparisons agree, %d known differences, %d unexplained", same, len(seen)-unexplained, unexplained)
}

// fetchDovecotItems are fetched one at a time from every message.
var fetchDovecotItems = []string{
	"RFC822.SIZE", "BODYSTRUCTURE", "BODY", "ENVELOPE", "RFC822.HEADER",
	"BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]", "BODY.PEEK[2]",
	"BODY.PEEK[2.MIME]", "BODY.PEEK[HEADER.FIELDS (From Subject)]",
	"BODY.PEEK[HEADER.FIELDS.NOT (From Subject Received)]", "BODY.PEEK[1.HEADER]", "BODY.PEEK[2.TEXT]",
	"BODY.PEEK[2.HEADER.FIELDS (Subject)]", "BODY.PEEK[2.1]", "BODY.PEEK[1.2]", "BODY.PEEK[3]",
	"BINARY.SIZE[1]", "BINARY.PEEK[1]", "BINARY.SIZE[2]", "BODY.PEEK[]<10.20>", "BODY.PEEK[1]<3.7>",
}

// fetchDovecotSearches are run as UID SEARCH over the corpus.
var fetchDovecotSearches = []string{
	"ALL", "SUBJECT test", "FROM aperson", "TO bbb", "CC example", "HEADER Content-Type multipart",
	"HEADER X-Mailer \"\"", "LARGER 2000", "SMALLER 1000", "SENTSINCE 1-Jan-2002", "SENTBEFORE 1-Jan-2001",
	"BODY yadda", "TEXT MIME", "NOT HEADER MIME-Version 1.0", "OR SUBJECT report FROM daemon",
}

// fetchDovecotDifferences are the known differences, "file item" → why.
var fetchDovecotDifferences = map[string]string{
	// Part N.1 of a part N that is neither multipart nor message/rfc822:
	// Dovecot answers part N, Eider NIL (RFC 3501 §6.4.5 gives a part 1
	// only to a message's non-multipart body).
	"msg_05.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	"msg_07.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	"msg_15.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	"msg_21.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	"msg_39.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	// BINARY of a multipart part: Dovecot decodes the parts inside (and
	// refuses a broken one), Eider returns the multipart as stored
	// (RFC 3516 decodes a part's own Content-Transfer-Encoding).
	"msg_15.txt BINARY.SIZE[1]": "BINARY of a multipart part",
	"msg_15.txt BINARY.PEEK[1]": "BINARY of a multipart part",
	// multipart/report whose boundary never occurs: mimetree keeps the body
	// as one opaque application/octet-stream part, Dovecot invents an empty
	// text/plain child.
	"msg_25.txt BODYSTRUCTURE":     "unsplittable multipart",
	"msg_25.txt BODY":              "unsplittable multipart",
	"msg_25.txt BODY.PEEK[1]":      "unsplittable multipart",
	"msg_25.txt BODY.PEEK[1.MIME]": "unsplittable multipart",
	"msg_25.txt BINARY.SIZE[1]":    "unsplittable multipart",
	"msg_25.txt BINARY.PEEK[1]":    "unsplittable multipart",
	"msg_25.txt BODY.PEEK[1]<3.7>": "unsplittable multipart",
	// Two To: fields: Dovecot's ENVELOPE joins them, mimetree's takes the first.
	"msg_25.txt ENVELOPE": "two To: fields",
	// A folded Subject: Dovecot keeps the line break (as a literal),
	// mimetree unfolds it (RFC 5322 §2.2.3).
	"msg_27.txt ENVELOPE": "folded Subject",
	// RFC 2231 encoded boundary (boundary*=): Dovecot does not decode it
	// and sees no parts; mimetree does.
	"msg_33.txt BODYSTRUCTURE":     "RFC 2231 boundary",
	"msg_33.txt BODY":              "RFC 2231 boundary",
	"msg_33.txt BODY.PEEK[1]":      "RFC 2231 boundary",
	"msg_33.txt BODY.PEEK[1.MIME]": "RFC 2231 boundary",
	"msg_33.txt BODY.PEEK[2]":      "RFC 2231 boundary",
	"msg_33.txt BODY.PEEK[2.MIME]": "RFC 2231 boundary",
	"msg_33.txt BINARY.SIZE[1]":    "RFC 2231 boundary",
	"msg_33.txt BINARY.PEEK[1]":    "RFC 2231 boundary",
	"msg_33.txt BINARY.SIZE[2]":    "RFC 2231 boundary",
	"msg_33.txt BODY.PEEK[1]<3.7>": "RFC 2231 boundary",
	// A header that ends without an empty line: Eider sends no empty line
	// after HEADER.FIELDS (RFC 3501 §6.4.5: none "in the case of a message
	// which has no body and no blank line"), Dovecot adds one.
	"msg_35.txt BODY.PEEK[HEADER.FIELDS (From Subject)]": "no blank line",
	// N.1 of a leaf part (see above).
	"msg_43.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	"msg_45.txt BODY.PEEK[2.1]": "N.1 of a leaf part",
	// BINARY of a multipart part (see above).
	"msg_13.txt BINARY.SIZE[2]": "BINARY of a multipart part",
	// Dovecot ends the session ("Base64 data ends prematurely") on BINARY
	// of this message; Eider decodes what is there.
	"msg_39.txt BINARY.SIZE[1]": "Dovecot aborts",
	"msg_39.txt BINARY.PEEK[1]": "Dovecot aborts",
	"msg_39.txt BINARY.SIZE[2]": "Dovecot aborts",
	// multipart/alternative without a boundary parameter: mimetree keeps
	// the body as one opaque part, Dovecot invents an empty text/plain child.
	"msg_41.txt BODYSTRUCTURE":     "multipart without boundary",
	"msg_41.txt BODY":              "multipart without boundary",
	"msg_41.txt BODY.PEEK[1]":      "multipart without boundary",
	"msg_41.txt BODY.PEEK[1.MIME]": "multipart without boundary",
	"msg_41.txt BINARY.SIZE[1]":    "multipart without boundary",
	"msg_41.txt BINARY.PEEK[1]":    "multipart without boundary",
	"msg_41.txt BODY.PEEK[1]<3.7>": "multipart without boundary",
	// A part whose header has no empty line before the next delimiter:
	// mimetree counts the delimiter's line break (RFC 2046 §5.1.1) into the
	// part's MIME header as well; Dovecot does not. A mimetree edge case.
	"msg_47.txt BODY.PEEK[1.MIME]": "delimiter line break in MIME header",
	"msg_47.txt BODY.PEEK[2.MIME]": "delimiter line break in MIME header",
	// Messages without a Date: field: Dovecot treats them as sent at the
	// epoch, so SENTBEFORE matches them; the store matches no sent date.
	"search SENTBEFORE 1-Jan-2001": "no Date: field",
	// TEXT: Dovecot searches the raw message, preamble included; the
	// store's index holds the header and the decoded text parts.
	"search TEXT MIME": "multipart preamble not indexed",
}

const fetchDovecotScript = `
import glob
dc_dir = os.environ["DC_DIR"]
def dovecot():
    return imaplib.IMAP4_stream("env USER=dc HOME=%s /usr/lib/dovecot/imap -c %s/dovecot.conf" % (dc_dir, dc_dir))
D = dovecot()
E = login()
files = sorted(glob.glob(os.path.join(os.environ["CORPUS"], "*")))
for M in (D, E):
    for f in files:
        typ, data = M.append("INBOX", None, None, open(f, "rb").read())
        assert typ == "OK", (f, data)
    ok(M.select("INBOX"))

import re
def norm(res):
    typ, data = res
    if typ != "OK":
        return typ  # the texts and codes of refusals differ
    out = b""
    for d in data:
        if d is None or isinstance(d, bytes) and re.fullmatch(rb"\d+ \(UID \d+\)", d):
            continue  # an unsolicited FETCH (UID n) Dovecot sends after a failure
        if isinstance(d, tuple):
            h = d[0].replace(b"~{", b"{").upper()
            if h.endswith(b"{0}"):
                out += h[:-3] + b"NIL"
            else:
                out += h + b"\n" + d[1]
        else:
            out += d.upper()
    out = out.replace(b'""', b"NIL")
    return typ + " " + repr(out)

def show(s):
    return s.replace("\t", " ")[:300]

for i, f in enumerate(files):
    name = os.path.basename(f)
    for it in os.environ["ITEMS"].split("|"):
        r = []
        for M in (D, E):
            try:
                r.append(norm(M.fetch(str(i + 1), "(" + it + ")")))
            except imaplib.IMAP4.abort as ex:
                # Dovecot ends the session on some broken encodings.
                r.append("ABORT " + str(ex)[:80])
                if M is D:
                    D = dovecot()
                    ok(D.select("INBOX"))
        if r[0] == r[1]:
            print("SAME", name, it)
        else:
            print("DIFF %s %s\t%s\t%s" % (name, it, show(r[0]), show(r[1])))
for q in os.environ["SEARCHES"].split("|"):
    r = [M.uid("SEARCH", *q.split(" ")) for M in (D, E)]
    if r[0] == r[1]:
        print("SAME search", q)
    else:
        print("DIFF search %s\t%s\t%s" % (q, r[0], r[1]))
`
