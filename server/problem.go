package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
	"github.com/gin-gonic/gin"
)

// problemBase prefixes the type URI of every problem (RFC 9457 §3.1.1).
const problemBase = "https://eider.example/problems/"

// apiError is an error with its HTTP status and problem code. Handlers
// return it (or a store error, mapped by toProblem) instead of building
// per-operation error responses.
type apiError struct {
	status int
	code   api.ProblemCode
	detail string
	field  string
	// retryAfter, when positive, is sent as Retry-After (seconds).
	retryAfter int
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.detail }

func errInvalid(field, format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, code: api.ProblemCodeInvalidInput, detail: fmt.Sprintf(format, args...), field: field}
}

func errForbidden(detail string) error {
	return &apiError{status: http.StatusForbidden, code: api.ProblemCodeForbidden, detail: detail, field: ""}
}

func errUnauthorized(detail string) error {
	return &apiError{status: http.StatusUnauthorized, code: api.ProblemCodeUnauthorized, detail: detail, field: ""}
}

func errNotFound(detail string) error {
	return &apiError{status: http.StatusNotFound, code: api.ProblemCodeNotFound, detail: detail, field: ""}
}

var titles = map[api.ProblemCode]string{
	api.ProblemCodeInvalidInput:     "Invalid input",
	api.ProblemCodeUnauthorized:     "Unauthorized",
	api.ProblemCodeForbidden:        "Forbidden",
	api.ProblemCodeNotFound:         "Not found",
	api.ProblemCodeMethodNotAllowed: "Method not allowed",
	api.ProblemCodeExists:           "Already exists",
	api.ProblemCodeSpecialUse:       "Special-use mailbox",
	api.ProblemCodeHasChildren:      "Mailbox has children",
	api.ProblemCodeMainAddress:      "Main address",
	api.ProblemCodeTooLarge:         "Too large",
	api.ProblemCodeOverQuota:        "Quota exceeded",
	api.ProblemCodeRateLimited:      "Too many requests",
	api.ProblemCodeInternal:         "Internal error",
}

// toProblem maps an error from a handler or the core to its problem. Store
// errors carry their meaning in the sentinel they wrap; anything else is an
// internal error whose detail is logged, not shown.
func toProblem(err error) (*apiError, bool) {
	var ae *apiError
	var le *mimetree.LimitError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.Is(err, store.ErrNotFound):
		// No backend text and no ids: a not-found says nothing more.
		return &apiError{status: http.StatusNotFound, code: api.ProblemCodeNotFound, detail: "no such resource", field: ""}, true
	case errors.Is(err, store.ErrSpecialUse):
		return &apiError{status: http.StatusConflict, code: api.ProblemCodeSpecialUse, detail: "special-use mailboxes and INBOX cannot be deleted", field: ""}, true
	case errors.Is(err, store.ErrHasChildren):
		return &apiError{status: http.StatusConflict, code: api.ProblemCodeHasChildren, detail: "delete or move the mailbox's children first", field: ""}, true
	case errors.Is(err, store.ErrMainAddress), errors.Is(err, store.ErrLastAddress):
		return &apiError{status: http.StatusConflict, code: api.ProblemCodeMainAddress, detail: "make another address main first", field: ""}, true
	case errors.Is(err, store.ErrExists):
		return &apiError{status: http.StatusConflict, code: api.ProblemCodeExists, detail: "already exists", field: ""}, true
	case errors.Is(err, store.ErrOverQuota):
		return &apiError{status: http.StatusUnprocessableEntity, code: api.ProblemCodeOverQuota, detail: "the user's quota would be exceeded", field: ""}, true
	case errors.As(err, &le), errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, code: api.ProblemCodeTooLarge, detail: err.Error(), field: ""}, true
	case errors.Is(err, store.ErrInvalidName):
		return &apiError{status: http.StatusBadRequest, code: api.ProblemCodeInvalidInput, detail: fromSentinel(err, store.ErrInvalidName), field: "path"}, true
	case errors.Is(err, store.ErrNoSuchParent):
		return &apiError{status: http.StatusBadRequest, code: api.ProblemCodeInvalidInput, detail: fromSentinel(err, store.ErrNoSuchParent), field: "path"}, true
	case errors.Is(err, store.ErrInvalidInput):
		return &apiError{status: http.StatusBadRequest, code: api.ProblemCodeInvalidInput, detail: fromSentinel(err, store.ErrInvalidInput), field: ""}, true
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrUserDisabled):
		return &apiError{status: http.StatusUnauthorized, code: api.ProblemCodeUnauthorized, detail: "wrong username or password", field: ""}, true
	case errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusBadRequest, code: api.ProblemCodeInvalidInput, detail: "request canceled", field: ""}, false
	}
	return &apiError{status: http.StatusInternalServerError, code: api.ProblemCodeInternal, detail: "the server failed; the details are in its log", field: ""}, false
}

// fromSentinel is the part of err's text from the sentinel on ("invalid
// input: no @ in address"), leaving out the wrapping context (backend and
// operation names) that means nothing to a client.
func fromSentinel(err, sentinel error) string {
	s := err.Error()
	if i := strings.LastIndex(s, sentinel.Error()); i >= 0 {
		return s[i:]
	}
	return sentinel.Error()
}

// writeProblem writes err as application/problem+json (RFC 9457).
func writeProblem(c *gin.Context, log *slog.Logger, err error) {
	p, known := toProblem(err)
	if !known {
		log.Error("api request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	body := api.Problem{
		Type:   problemBase + string(p.code),
		Title:  titles[p.code],
		Status: p.status,
		Code:   p.code,
	}
	if p.detail != "" {
		body.Detail = &p.detail
	}
	if p.field != "" {
		body.Field = &p.field
	}
	b, _ := json.Marshal(body)
	if p.retryAfter > 0 {
		c.Header("Retry-After", fmt.Sprint(p.retryAfter))
	}
	c.Header("Content-Type", "application/problem+json")
	c.Header("Content-Length", fmt.Sprint(len(b)))
	c.Status(p.status)
	c.Writer.Write(b)
	c.Abort()
}
