package wire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

// Client traffic in the style of real clients, parsed as one stream.
var transcripts = map[string]string{
	"thunderbird": "1 capability\r\n" +
		"2 authenticate PLAIN\r\n" + "AHVzZXIAcGFzcw==\r\n" + // SASL response read by ReadLine
		"3 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")\r\n" +
		"4 enable UTF8=ACCEPT\r\n" +
		"5 list (subscribed) \"\" \"*\" return (special-use)\r\n" +
		"6 select \"INBOX\" (CONDSTORE)\r\n" +
		"7 UID fetch 1:* (FLAGS) (CHANGEDSINCE 1234)\r\n" +
		"8 UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n" +
		"9 UID fetch 4 (UID RFC822.SIZE BODY.PEEK[])\r\n" +
		"10 uid store 4 +Flags (\\Seen)\r\n" +
		"11 IDLE\r\n" +
		"12 UID move 5,7:9 \"Trash\"\r\n" +
		"13 append \"Sent\" (\\Seen) {12+}\r\nSubject: x\r\n\r\n" +
		"14 logout\r\n",
	"apple mail": "1.1 CAPABILITY\r\n" +
		"2.1 LOGIN \"user@example.com\" \"pa ss\"\r\n" +
		"3.1 LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN)\r\n" +
		"4.1 STATUS \"Archive\" (MESSAGES UNSEEN UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\n" +
		"5.1 SELECT INBOX\r\n" +
		"6.1 UID SEARCH RETURN (ALL) UID 1:* NOT DELETED\r\n" +
		"7.1 UID FETCH 1:10 (INTERNALDATE UID RFC822.SIZE FLAGS MODSEQ BODY.PEEK[HEADER])\r\n" +
		"8.1 UID FETCH 3 (BODYSTRUCTURE BODY.PEEK[1]<0.2048> BODY.PEEK[2.MIME])\r\n" +
		"9.1 NOOP\r\n",
	"mutt": "a0000 CAPABILITY\r\n" +
		"a0001 LOGIN \"fred\" \"s3cr\\\"t\"\r\n" +
		"a0002 LIST \"\" \"%\"\r\n" +
		"a0003 SELECT \"INBOX\"\r\n" +
		"a0004 FETCH 1:40 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL X-ORIGINAL-TO)])\r\n" +
		"a0005 UID STORE 12 +FLAGS.SILENT (\\Deleted)\r\n" +
		"a0006 UID EXPUNGE 12\r\n" +
		"a0007 APPEND \"Drafts\" (\\Seen \\Draft) {5}\r\nhello\r\n" +
		"a0008 SEARCH CHARSET UTF-8 OR SUBJECT {3}\r\nü1 BODY foo\r\n" +
		"a0009 CLOSE\r\n" +
		"a0010 LOGOUT\r\n",
	"imaplib": "ABCD1 CAPABILITY\r\n" +
		"ABCD2 LOGIN user {4}\r\np w \r\n" +
		"ABCD3 SELECT INBOX\r\n" +
		"ABCD4 SEARCH ALL\r\n" +
		"ABCD5 FETCH 1 (RFC822)\r\n" +
		"ABCD6 COPY 1:3 \"Old Mail\"\r\n" +
		"ABCD7 CREATE \"a b\"\r\n" +
		"ABCD8 RENAME \"a b\" \"c d\"\r\n" +
		"ABCD9 DELETE \"c d\"\r\n" +
		"ABCD10 GETQUOTAROOT INBOX\r\n" +
		"ABCD11 NAMESPACE\r\n" +
		"ABCD12 UNSELECT\r\n" +
		"ABCD13 LOGOUT\r\n",
}

func TestTranscripts(t *testing.T) {
	for name, in := range transcripts {
		t.Run(name, func(t *testing.T) {
			r, _ := testReader(in, Limits{})
			n := 0
			for {
				cmd, err := r.ReadCommand()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d commands: %v", n, err)
				}
				n++
				switch a := cmd.Args.(type) {
				case *AppendArgs:
					if _, err := io.ReadAll(a.Message); err != nil {
						t.Fatal(err)
					}
				case *AuthenticateArgs:
					if _, err := r.ReadLine(); err != io.EOF && err != nil {
						t.Fatal(err)
					}
				}
			}
			want := map[string]int{"thunderbird": 14, "apple mail": 9, "mutt": 11, "imaplib": 13}[name]
			if n != want {
				t.Fatalf("parsed %d commands", n)
			}
		})
	}
}

// Example of the read loop a session runs.
func ExampleReader() {
	conn := strings.NewReader("a1 LOGIN fred {6}\r\nsecret\r\n" +
		"a2 APPEND INBOX (\\Seen) {5}\r\nhello\r\n" +
		"a3 FETCH 0 FLAGS\r\n" +
		"a4 LOGOUT\r\n")
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := NewWriter(bw)
	r := NewReader(conn, Limits{}, func() error {
		w.Continue("Ready")
		return w.Flush()
	})
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && !se.Fatal {
				w.StatusResponse(se.Tag, BAD, "", se.Msg)
				continue
			}
			break // I/O error or fatal: close the connection
		}
		switch a := cmd.Args.(type) {
		case *LoginArgs:
			w.StatusResponse(cmd.Tag, OK, "", "LOGIN as "+a.Username)
		case *AppendArgs:
			body, _ := io.ReadAll(a.Message)
			if err := a.Message.Finish(); err != nil {
				w.StatusResponse(cmd.Tag, BAD, "", "bad APPEND")
				continue
			}
			w.StatusResponse(cmd.Tag, OK, CodeAppendUID(1, 1), fmt.Sprintf("stored %d bytes", len(body)))
		default:
			w.StatusResponse(cmd.Tag, OK, "", cmd.Name+" done")
		}
	}
	w.Flush()
	fmt.Print(strings.ReplaceAll(out.String(), "\r\n", "\n"))
	// Output:
	// + Ready
	// a1 OK LOGIN as fred
	// + Ready
	// a2 OK [APPENDUID 1 1] stored 5 bytes
	// a3 BAD 0 is not a valid message number
	// a4 OK LOGOUT done
}
