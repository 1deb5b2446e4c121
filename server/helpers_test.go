package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mailtest"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/server"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

const adminToken = "test-admin-token-0123456789"

// corpusDir holds real MIME messages (CPython's email test data).
const corpusDir = "../mail/mimetree/testdata/corpus"

// env is a real API server on loopback over a real core (SQLite, file
// blobs, in-process bus) in a temporary directory.
type env struct {
	t     *testing.T
	svc   *mail.Service
	url   string
	admin *api.ClientWithResponses
	// dataDir holds the token secret (a second server.New on it verifies
	// the same tokens).
	dataDir string
}

func newEnv(t *testing.T, opt ...func(*server.Options)) *env {
	t.Helper()
	svc := mailtest.NewService(t, "", "", mimetree.DefaultLimits())
	o := server.Options{AdminToken: adminToken, DataDir: t.TempDir(), MaxLoginFailures: 5}
	for _, f := range opt {
		f(&o)
	}
	h, err := server.New(svc, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, svc: svc, url: srv.URL, dataDir: o.DataDir}
	e.admin = e.client(adminToken)
	return e
}

// client returns a generated Go client sending token ("" for none), whose
// every response is validated against openapi.yaml.
func (e *env) client(token string) *api.ClientWithResponses {
	c, err := api.NewClientWithResponses(e.url,
		api.WithHTTPClient(&http.Client{Transport: &contractCheck{t: e.t, next: http.DefaultTransport}}),
		api.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// httpClient is a plain client with the same response validation, for
// requests the generated client cannot make (broken input on purpose).
func (e *env) httpClient() *http.Client {
	return &http.Client{Transport: &contractCheck{t: e.t, next: http.DefaultTransport}}
}

var (
	contractOnce   sync.Once
	contractRouter routers.Router
	contractSpec   *openapi3.T
	contractErr    error
)

// contractDoc returns the loaded openapi.yaml.
func contractDoc(t *testing.T) *openapi3.T {
	t.Helper()
	if _, err := contract(); err != nil {
		t.Fatal(err)
	}
	return contractSpec
}

// contract loads openapi.yaml itself (not the copy embedded in api), so the
// responses are checked against the file clients are generated from.
func contract() (routers.Router, error) {
	contractOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "openapi.yaml"))
		if err != nil {
			contractErr = err
			return
		}
		if err = doc.Validate(context.Background()); err != nil {
			contractErr = err
			return
		}
		doc.Servers = nil
		contractSpec = doc
		contractRouter, contractErr = legacy.NewRouter(doc)
	})
	return contractRouter, contractErr
}

// contractCheck validates every response against openapi.yaml: status
// declared, headers and, for JSON, the body schema.
type contractCheck struct {
	t    *testing.T
	next http.RoundTripper
}

func (c *contractCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	router, err := contract()
	if err != nil {
		c.t.Errorf("openapi.yaml: %v", err)
		return resp, nil
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return resp, nil // not a route of the contract (tested for 404 elsewhere)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ct := resp.Header.Get("Content-Type")
	opts := &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	if !strings.Contains(ct, "json") {
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		c.t.Errorf("%s %s → %d does not match openapi.yaml: %v\nbody: %.300s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	if resp.StatusCode >= 400 && resp.StatusCode != 416 && req.URL.Path != "/health" && !strings.HasPrefix(ct, "application/problem+json") {
		c.t.Errorf("%s %s → %d with Content-Type %q, want application/problem+json", req.Method, req.URL.Path, resp.StatusCode, ct)
	}
	return resp, nil
}

// user creates a user through the API and returns its id and a token.
func (e *env) user(name, pw, addr string) (string, string) {
	e.t.Helper()
	ctx := context.Background()
	body := api.UserCreate{Username: name, Password: pw}
	if addr != "" {
		body.Address = &addr
	}
	r, err := e.admin.CreateUserWithResponse(ctx, body)
	if err != nil || r.JSON201 == nil {
		e.t.Fatalf("create user %s: %v %s", name, err, r.Body)
	}
	a, err := e.client("").AuthenticateWithResponse(ctx, api.AuthRequest{Username: name, Password: pw})
	if err != nil || a.JSON200 == nil {
		e.t.Fatalf("authenticate %s: %v %s", name, err, a.Body)
	}
	return r.JSON201.Id, a.JSON200.Token
}

// mailbox returns the id of the user's mailbox with that path.
func (e *env) mailbox(c *api.ClientWithResponses, path string) string {
	e.t.Helper()
	r, err := c.ListMailboxesWithResponse(context.Background(), "me")
	if err != nil || r.JSON200 == nil {
		e.t.Fatalf("list mailboxes: %v", err)
	}
	for _, m := range r.JSON200.Mailboxes {
		if m.Path == path {
			return m.Id
		}
	}
	e.t.Fatalf("no mailbox %q", path)
	return ""
}

// upload appends raw through the API.
func (e *env) upload(c *api.ClientWithResponses, mailbox string, raw []byte, flags ...string) api.MessageSummary {
	e.t.Helper()
	p := &api.UploadMessageParams{}
	if len(flags) > 0 {
		p.Flag = &flags
	}
	r, err := c.UploadMessageWithBodyWithResponse(context.Background(), "me", mailbox, p, "message/rfc822", bytes.NewReader(raw))
	if err != nil || r.JSON201 == nil {
		e.t.Fatalf("upload: %v %d %s", err, r.StatusCode(), r.Body)
	}
	return *r.JSON201
}

func corpus(t *testing.T) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(corpusDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	if len(out) < 10 {
		t.Fatalf("corpus has %d messages", len(out))
	}
	return out
}

// problemCode returns the code of a problem+json body.
func problemCode(t *testing.T, status int, body []byte, want int) string {
	t.Helper()
	if status != want {
		t.Fatalf("status %d, want %d; body %s", status, want, body)
	}
	var p api.Problem
	if err := jsonUnmarshal(body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, body)
	}
	if p.Status != want {
		t.Fatalf("problem status %d, want %d", p.Status, want)
	}
	return string(p.Code)
}

var errNoBody = errors.New("empty body")

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return errNoBody
	}
	return json.Unmarshal(b, v)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// newEnvWithLimit is newEnv with a message size limit.
func newEnvWithLimit(t *testing.T, maxSize int64) *env {
	t.Helper()
	lim := mimetree.DefaultLimits()
	lim.MaxSize = maxSize
	svc := mailtest.NewService(t, "", "", lim)
	h, err := server.New(svc, server.Options{AdminToken: adminToken, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, svc: svc, url: srv.URL}
	e.admin = e.client(adminToken)
	return e
}

func strPtr(s string) *string { return &s }
