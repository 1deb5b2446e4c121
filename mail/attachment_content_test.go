package mail

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
	"testing"
)

func TestDecodeBase64Lenient(t *testing.T) {
	data := []byte("any carnal pleasure, and then some \x00\xff bytes")
	enc := base64.StdEncoding.EncodeToString(data)
	// Line breaks and junk are ignored (RFC 2045 §6.8).
	wrapped := enc[:10] + "\r\n" + enc[10:30] + " \t*" + enc[30:] + "\r\n"
	if got := decodeBase64([]byte(wrapped)); !bytes.Equal(got, data) {
		t.Fatalf("wrapped: %q", got)
	}
	// Concatenated encodings: "=" ends one, decoding goes on.
	two := base64.StdEncoding.EncodeToString([]byte("ab")) + base64.StdEncoding.EncodeToString([]byte("cde"))
	if got := decodeBase64([]byte(two)); string(got) != "abcde" {
		t.Fatalf("concatenated: %q", got)
	}
	// A truncated final quantum keeps its whole bytes.
	if got := decodeBase64([]byte("YWJj" + "ZG")); string(got) != "abcd" {
		t.Fatalf("truncated: %q", got)
	}
}

func TestDecodeQPLenient(t *testing.T) {
	var enc bytes.Buffer
	w := quotedprintable.NewWriter(&enc)
	want := []byte("Grüße, a long line " + string(bytes.Repeat([]byte("x"), 100)) + " = done\r\nsecond line\r\n")
	w.Write(want)
	w.Close()
	if got := decodeQP(enc.Bytes()); !bytes.Equal(got, want) {
		t.Fatalf("round trip:\n got %q\nwant %q", got, want)
	}
	// Lowercase hex, a stray "=", trailing whitespace, soft break with
	// whitespace after the "=".
	in := "caf=c3=a9 =ZZ end   \r\nsoft= \r\nbreak\r\n"
	if got := string(decodeQP([]byte(in))); got != "café =ZZ end\r\nsoftbreak\r\n" {
		t.Fatalf("lenient: %q", got)
	}
}
