package mimetree

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/blob"
)

func benchMessage(attach int) []byte {
	rng := rand.New(rand.NewSource(42))
	bin := make([]byte, attach)
	rng.Read(bin)
	enc := base64.StdEncoding.EncodeToString(bin)
	var b strings.Builder
	b.WriteString("Return-Path: <sender@example.com>\r\nReceived: from mx.example.com by mail.example.org; Fri, 4 May 2001 14:05:44 -0400\r\n")
	b.WriteString("From: =?UTF-8?Q?J=C3=BCrgen_Sender?= <sender@example.com>\r\nTo: Rcpt One <one@example.org>, two@example.org\r\n")
	b.WriteString("Subject: =?UTF-8?B?QmVuY2htYXJrIG1lc3NhZ2U=?=\r\nDate: Fri, 4 May 2001 14:05:44 -0400\r\nMessage-ID: <bench@example.com>\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n")
	b.WriteString("--=_outer\r\nContent-Type: multipart/alternative; boundary=\"=_alt\"\r\n\r\n")
	b.WriteString("--=_alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for i := 0; i < 12; i++ {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusm=\r\nod tempor incididunt ut labore et dolore magna aliqua. Caf=C3=A9.\r\n")
	}
	b.WriteString("--=_alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>")
	for i := 0; i < 8; i++ {
		b.WriteString("<p>Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit &amp; more.</p>\r\n")
	}
	b.WriteString("</body></html>\r\n--=_alt--\r\n")
	if attach > 0 {
		b.WriteString("--=_outer\r\nContent-Type: application/pdf; name=\"doc.pdf\"\r\nContent-Disposition: attachment; filename=\"doc.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--=_outer--\r\n")
	return []byte(b.String())
}

func benchParse(b *testing.B, msg []byte) {
	st := newMemStore()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(context.Background(), bytes.NewReader(msg), st, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse4K(b *testing.B) {
	msg := benchMessage(1000)
	if len(msg) < 3500 || len(msg) > 4800 {
		b.Fatalf("4K message is %d bytes", len(msg))
	}
	benchParse(b, msg)
}

func BenchmarkParse200K(b *testing.B) {
	msg := benchMessage(150 << 10)
	if len(msg) < 190<<10 || len(msg) > 215<<10 {
		b.Fatalf("200K message is %d bytes", len(msg))
	}
	benchParse(b, msg)
}

// attachMessage is the shape of bench/lmtp's "200k-att" message: a 2 KB
// text part and a base64 attachment in 76-column CRLF lines, about 200 KB.
func attachMessage() []byte {
	rng := rand.New(rand.NewSource(7))
	raw := make([]byte, 150<<10)
	rng.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString("Return-Path: <bench@sender.example>\r\nDelivered-To: b200k@bench.example\r\n")
	b.WriteString("From: Bench <bench@sender.example>\r\nTo: <b200k@bench.example>\r\nSubject: benchmark message 1\r\n")
	b.WriteString("Message-ID: <1.1@bench.local>\r\nDate: Thu, 26 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: multipart/mixed; boundary=\"bench-boundary\"\r\n\r\n")
	b.WriteString("--bench-boundary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	for b.Len() < 2500 {
		b.WriteString("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\r\n")
	}
	b.WriteString("--bench-boundary\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n")
	b.WriteString("Content-Disposition: attachment; filename=\"report.pdf\"\r\n\r\n")
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--bench-boundary--\r\n")
	return []byte(b.String())
}

// BenchmarkParse200KAttachment parses the LMTP benchmark's attachment
// message: "inline" without a blob store (the parser's own work: lines,
// boundaries, base64 size), "filestore" into a real file store (plus the
// blob file: create, write, SHA-256, fsync, rename, directory fsync).
func BenchmarkParse200KAttachment(b *testing.B) {
	msg := attachMessage()
	b.Run("inline", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for range b.N {
			p, err := Parse(context.Background(), bytes.NewReader(msg), nil, Limits{})
			if err != nil || len(p.Meta.Attachments) != 1 {
				b.Fatalf("parse: %v", err)
			}
		}
	})
	b.Run("filestore", func(b *testing.B) {
		body := []byte("filename=\"report.pdf\"\r\n\r\n")
		at := bytes.Index(msg, body) + len(body)
		st, err := blob.NewFileStore(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for i := range b.N {
			// A different attachment every time, as in the LMTP benchmark.
			m := bytes.Clone(msg)
			copy(m[at:], fmt.Sprintf("%08d", i)) // digits are base64 too
			p, err := Parse(context.Background(), bytes.NewReader(m), st, Limits{})
			if err != nil || len(p.Blobs) != 1 {
				b.Fatalf("parse: %v, %d blobs", err, len(p.Blobs))
			}
			st.Release(p.Blobs...)
		}
	})
}
