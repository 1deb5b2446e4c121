package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/eidermail/eider/mail/store"
	"github.com/gin-gonic/gin"
)

// principal is who a request acts as: the admin (every user) or one user.
type principal struct {
	admin  bool
	userID string
}

// reqInfoKey keys the request's reqInfo in its context.
type reqInfoKey struct{}

// reqInfo is what the contract middleware learnt about a request.
type reqInfo struct {
	p *principal
	r *http.Request
}

// reqCtx returns the request's own context. Handlers get a *gin.Context,
// which gin reuses for the next request once the handler returns; anything
// that may outlive the handler (database/sql watches contexts from its own
// goroutines) must hold the request context instead.
func reqCtx(ctx context.Context) context.Context {
	if gc, ok := ctx.(*gin.Context); ok {
		return gc.Request.Context()
	}
	return ctx
}

// requestOf returns the HTTP request being handled.
func requestOf(ctx context.Context) *http.Request {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri.r
	}
	return nil
}

// Token format: "v1." + base64url(payload JSON) + "." + base64url(HMAC-SHA256
// over "v1." + payload part). The payload names the user, the expiry and a
// fingerprint of the user's password hash, so that changing the password
// revokes every token issued before. Any instance with the same secret
// verifies a token without shared state.
type tokenPayload struct {
	User    string `json:"u"`
	Expires int64  `json:"e"`
	PwFP    string `json:"p"`
	// Issued (Unix ns) is compared with the user's TokensRevoked: DELETE
	// /authenticate voids every token issued at or before that time.
	Issued int64 `json:"i,omitempty"`
}

// tokens issues and checks user tokens.
type tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	// seen holds the payloads of tokens whose signature verified, by
	// token: a client sends the same token with every request, and the
	// HMAC and the JSON decoding cost as much as the rest of a cheap
	// request. Only the signature check is remembered (a payload is a
	// function of the token and the secret); expiry and the user checks
	// run on every request. Emptied when it holds maxSeenTokens.
	mu   sync.Mutex
	seen map[string]*tokenPayload
}

// maxSeenTokens bounds tokens.seen.
const maxSeenTokens = 4096

func pwFingerprint(hash string) string {
	s := sha256.Sum256([]byte(hash))
	return base64.RawURLEncoding.EncodeToString(s[:9])
}

func (t *tokens) issue(u *store.User) (string, time.Time) {
	exp := t.now().Add(t.ttl).Truncate(time.Second)
	p, _ := json.Marshal(tokenPayload{User: u.ID, Expires: exp.Unix(), PwFP: pwFingerprint(u.PasswordHash), Issued: t.now().UnixNano()})
	head := "v1." + base64.RawURLEncoding.EncodeToString(p)
	return head + "." + t.sign(head), exp
}

func (t *tokens) sign(head string) string {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte(head))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and expiry and returns its payload; the
// caller still checks the user (exists, enabled, same password).
func (t *tokens) verify(tok string) (*tokenPayload, error) {
	t.mu.Lock()
	p, ok := t.seen[tok]
	t.mu.Unlock()
	if !ok {
		var err error
		if p, err = t.verifySignature(tok); err != nil {
			return nil, err
		}
		t.mu.Lock()
		if t.seen == nil || len(t.seen) >= maxSeenTokens {
			t.seen = make(map[string]*tokenPayload)
		}
		t.seen[tok] = p
		t.mu.Unlock()
	}
	if t.now().Unix() >= p.Expires {
		return nil, errors.New("token expired")
	}
	cp := *p // callers get their own copy
	return &cp, nil
}

// verifySignature checks a token's signature and decodes its payload.
func (t *tokens) verifySignature(tok string) (*tokenPayload, error) {
	i := strings.LastIndexByte(tok, '.')
	if !strings.HasPrefix(tok, "v1.") || i <= 3 {
		return nil, errors.New("malformed token")
	}
	head, sig := tok[:i], tok[i+1:]
	if !hmac.Equal([]byte(sig), []byte(t.sign(head))) {
		return nil, errors.New("bad token signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(head[3:])
	if err != nil {
		return nil, errors.New("malformed token")
	}
	var p tokenPayload
	if err := json.Unmarshal(b, &p); err != nil || p.User == "" {
		return nil, errors.New("malformed token")
	}
	return &p, nil
}

// loadSecret returns the configured secret, or the one in dataDir/
// api-token.key, creating that file with a random key on first use. With
// several instances on one data directory the first writer wins and the
// others read its key.
func loadSecret(configured, dataDir string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 16 {
			return nil, errors.New("http.token_secret: use at least 16 characters")
		}
		return []byte(configured), nil
	}
	if dataDir == "" {
		return nil, errors.New("http: no token secret and no data directory to keep one in")
	}
	path := filepath.Join(dataDir, "api-token.key")
	if b, err := os.ReadFile(path); err == nil {
		return parseKeyFile(path, b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("token secret: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("token secret: %w", err)
		}
		return parseKeyFile(path, b)
	}
	if err != nil {
		return nil, fmt.Errorf("token secret: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("token secret: write %s: %w", path, err)
	}
	return key, nil
}

func parseKeyFile(path string, b []byte) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("token secret: %s does not hold a hex key of 16 bytes or more", path)
	}
	return key, nil
}

// authenticate resolves the bearer token of a request (RFC 6750 §2.1).
func (h *Handlers) authenticate(ctx context.Context, r *http.Request) (*principal, error) {
	authz := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, errUnauthorized("send Authorization: Bearer <token>")
	}
	tok = strings.TrimSpace(tok)
	if h.adminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(h.adminToken)) == 1 {
		return &principal{admin: true}, nil
	}
	p, err := h.tokens.verify(tok)
	if err != nil {
		return nil, errUnauthorized(err.Error())
	}
	u, err := h.svc.Store.GetUser(ctx, p.User)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized("the token's user no longer exists")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate token: %w", err)
	}
	if u.Disabled {
		return nil, errUnauthorized("user disabled")
	}
	if subtle.ConstantTimeCompare([]byte(pwFingerprint(u.PasswordHash)), []byte(p.PwFP)) != 1 {
		return nil, errUnauthorized("token revoked by a password change")
	}
	if !u.TokensRevoked.IsZero() && p.Issued <= u.TokensRevoked.UnixNano() {
		return nil, errUnauthorized("token revoked")
	}
	return &principal{userID: u.ID}, nil
}

// who returns the principal the auth middleware stored.
func who(ctx context.Context) *principal {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok && ri.p != nil {
		return ri.p
	}
	return &principal{}
}

// userOf resolves a {user} path parameter: "me" is the token's user; a user
// token reaches only its own user (403 for any other id, existing or not,
// so that nothing is learnt about other users).
func userOf(ctx context.Context, param string) (string, error) {
	p := who(ctx)
	if param == "me" {
		if p.admin {
			return "", errInvalid("user", "the admin token has no user of its own; give a user id")
		}
		return p.userID, nil
	}
	if !p.admin && param != p.userID {
		return "", errForbidden("a user token reaches only its own user")
	}
	return param, nil
}

func requireAdmin(ctx context.Context) error {
	if !who(ctx).admin {
		return errForbidden("this operation needs the admin token")
	}
	return nil
}
