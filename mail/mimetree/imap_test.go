package mimetree

import (
	"encoding/base64"
	"testing"
)

func decodeB64Std(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(removeSpace(s))
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	return b
}

func removeSpace(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] > ' ' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// Expected strings below were written by hand from RFC 3501 §7.4.2 and the
// formal syntax in §9, then checked against the byte counts of the input.
func TestEnvelopeGolden(t *testing.T) {
	raw := "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n" +
		"From: Terry Gray <gray@cac.washington.edu>\r\n" +
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n" +
		"To: imap@cac.washington.edu\r\n" +
		"cc: minutes@CNRI.Reston.VA.US,\r\n John Klensin <KLENSIN@MIT.EDU>\r\n" +
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n" +
		"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
	pr := parseString(t, raw, nil, Limits{})
	// This is the example of RFC 3501 §7.4.2 (FETCH response), reformatted
	// as one line: Sender and Reply-To default to From.
	wantEnv := `("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")`
	if pr.Meta.Envelope != wantEnv {
		t.Errorf("ENVELOPE\n got %s\nwant %s", pr.Meta.Envelope, wantEnv)
	}
	// Body: 55 octets, 1 line. Parameter names are lowercased, values as written.
	wantBS := `("text" "plain" ("charset" "US-ASCII") NIL NIL "7BIT" 55 1 NIL NIL NIL NIL)`
	if pr.Meta.BodyStructure != wantBS {
		t.Errorf("BODYSTRUCTURE\n got %s\nwant %s", pr.Meta.BodyStructure, wantBS)
	}
	wantBody := `("text" "plain" ("charset" "US-ASCII") NIL NIL "7BIT" 55 1)`
	if pr.Meta.Body != wantBody {
		t.Errorf("BODY\n got %s\nwant %s", pr.Meta.Body, wantBody)
	}
}

func TestBodyStructureGolden(t *testing.T) {
	raw := "From: \"A \\\"quoted\\\" name\" <a@b.c>\n" +
		"Subject: mixed\n" +
		"Content-Type: multipart/mixed; boundary=\"=_x\"\n" +
		"Content-Language: en\n" +
		"\n" +
		"--=_x\n" +
		"\n" +
		"Hi\n" +
		"there\n" +
		"--=_x\n" +
		"Content-Type: application/pdf; name=doc.pdf\n" +
		"Content-Transfer-Encoding: base64\n" +
		"Content-Disposition: attachment; filename=\"doc.pdf\"\n" +
		"Content-ID: <c1@x>\n" +
		"Content-Description: The \"doc\"\n" +
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n" +
		"Content-Language: de, en\n" +
		"Content-Location: http://x.example/doc.pdf\n" +
		"\n" +
		"JVBERg==\n" +
		"--=_x\n" +
		"Content-Type: message/rfc822\n" +
		"\n" +
		"Subject: inner\n" +
		"\n" +
		"a\n" +
		"--=_x--\n"
	pr := parseString(t, raw, nil, Limits{})
	// Part 1: no Content-Type -> text/plain; charset=us-ascii (RFC 2045 §5.2),
	// body "Hi\nthere" = 8 octets, 1 line break (the LF before the delimiter
	// belongs to it, RFC 2046 §5.1.1).
	// Part 2: body "JVBERg==" = 8 octets; extension data md5, disposition,
	// language list, location.
	// Part 3: body "Subject: inner\n\na" = 17 octets, 2 line breaks; envelope
	// with only a subject; inner body "a" = 1 octet, 0 line breaks.
	want := `(` +
		`("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 1 NIL NIL NIL NIL)` +
		`("application" "pdf" ("name" "doc.pdf") "<c1@x>" "The \"doc\"" "BASE64" 8 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "doc.pdf")) ("de" "en") "http://x.example/doc.pdf")` +
		`("message" "rfc822" NIL NIL NIL "7BIT" 17 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)` +
		` "mixed" ("boundary" "=_x") NIL ("en") NIL)`
	if pr.Meta.BodyStructure != want {
		t.Errorf("BODYSTRUCTURE\n got %s\nwant %s", pr.Meta.BodyStructure, want)
	}
	wantBody := `(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 8 1)` +
		`("application" "pdf" ("name" "doc.pdf") "<c1@x>" "The \"doc\"" "BASE64" 8)` +
		`("message" "rfc822" NIL NIL NIL "7BIT" 17 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 1 0) 2) "mixed")`
	if pr.Meta.Body != wantBody {
		t.Errorf("BODY\n got %s\nwant %s", pr.Meta.Body, wantBody)
	}
	wantEnv := `(NIL "mixed" (("A \"quoted\" name" NIL "a" "b.c")) (("A \"quoted\" name" NIL "a" "b.c")) (("A \"quoted\" name" NIL "a" "b.c")) NIL NIL NIL NIL NIL)`
	if pr.Meta.Envelope != wantEnv {
		t.Errorf("ENVELOPE\n got %s\nwant %s", pr.Meta.Envelope, wantEnv)
	}
	if pr.Meta.Attachments[0].Size != 4 { // "%PDF"
		t.Errorf("pdf size %d", pr.Meta.Attachments[0].Size)
	}
}

func TestIMAPStringLiteral(t *testing.T) {
	var b imapBuf
	b.nstr("")
	b.WriteByte(' ')
	b.str(`a"b\c`)
	b.WriteByte(' ')
	b.str("line\r\nbreak")
	if got, want := b.String(), "NIL \"a\\\"b\\\\c\" {11}\r\nline\r\nbreak"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestEnvelopeOddAddresses(t *testing.T) {
	// "<>" and a bare local part get Dovecot's placeholders; an unbalanced
	// ")" must not hang the tokenizer (found by fuzzing).
	raw := "From: MAILER DAEMON <>\nTo: foo\nCc: bbb@ddd.com John X. Doe)\n\n"
	pr := parseString(t, raw, nil, Limits{})
	want := `(NIL NIL (("MAILER DAEMON" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) (("MAILER DAEMON" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) (("MAILER DAEMON" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) ((NIL NIL "foo" "MISSING_DOMAIN")) ((NIL NIL "bbb" "ddd.comJohnX.Doe)")) NIL NIL NIL)`
	if pr.Meta.Envelope != want {
		t.Errorf("ENVELOPE\n got %s\nwant %s", pr.Meta.Envelope, want)
	}
	checkIMAPSyntax(t, pr.Meta.Envelope)
}
