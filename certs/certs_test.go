package certs

import (
	"bytes"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateOnceThenReuse(t *testing.T) {
	dir := t.TempDir()
	c1, err := Load("", "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls", KeyName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	c2, err := Load("", "", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Certificates[0].Certificate[0], c2.Certificates[0].Certificate[0]) {
		t.Fatal("second Load generated a new certificate instead of reusing the first")
	}
	// The generated pair loads as configured files too.
	c3, err := Load(filepath.Join(dir, "tls", CertName), filepath.Join(dir, "tls", KeyName), t.TempDir(), nil)
	if err != nil || !bytes.Equal(c3.Certificates[0].Certificate[0], c1.Certificates[0].Certificate[0]) {
		t.Fatalf("configured files: %v", err)
	}
	if c1.MinVersion != tls.VersionTLS12 {
		t.Fatalf("MinVersion %x", c1.MinVersion)
	}
	if _, err := Load("only-cert.pem", "", dir, nil); err == nil {
		t.Fatal("cert without key accepted")
	}
	if _, err := Load(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing.key"), dir, nil); err == nil {
		t.Fatal("missing files accepted")
	}
}
