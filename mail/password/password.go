// Package password hashes and verifies account passwords with argon2id
// (RFC 9106), encoded as PHC strings so parameters can change over time
// without invalidating stored hashes.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Time    uint32 // iterations
	Memory  uint32 // KiB
	Threads uint8
}

// Default follows RFC 9106 §4's second recommended option scaled for a mail
// server that verifies many logins: 64 MiB, 1 pass, 2 lanes.
var Default = Params{Time: 1, Memory: 64 * 1024, Threads: 2}

// Fast is for tests only: cheap, still argon2id.
var Fast = Params{Time: 1, Memory: 64, Threads: 1}

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("password: mismatch")

// ErrFormat is returned by Verify for a hash it cannot read.
var ErrFormat = errors.New("password: unknown hash format")

const saltLen, keyLen = 16, 32

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw: $argon2id$v=19$m=M,t=T,p=P$salt$key.
func Hash(pw string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify checks pw against a PHC string made by Hash, in constant time.
func Verify(pw, encoded string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return ErrFormat
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return ErrFormat
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Threads == 0 || p.Time == 0 {
		return ErrFormat
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return ErrFormat
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return ErrFormat
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}
