// Package server serves Eider's HTTP interface on top of the mail core: the
// REST/JSON API generated from openapi.yaml (package api) on gin, with every
// request validated against the contract before it reaches a handler, and
// the health check. Handlers are thin: they authorize, call the core
// (package mail) and convert its types to the contract's.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/eidermail/eider/api"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/metrics"
	"github.com/eidermail/eider/mail/relay"
	"github.com/eidermail/eider/mail/throttle"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"
)

// maxJSONBody bounds a JSON request body (other than a submission).
const maxJSONBody = 1 << 20

// Options configure the HTTP interface.
type Options struct {
	Log *slog.Logger
	// AdminToken is the bearer token with access to everything; "" means
	// no admin access.
	AdminToken string
	// TokenSecret signs user tokens; "" means the key kept in
	// DataDir/api-token.key (generated on first use).
	TokenSecret string
	DataDir     string
	// TokenTTL is the lifetime of a user token (default 24h).
	TokenTTL time.Duration
	// MaxLoginFailures per client address within LoginFailureWindow, after
	// which POST /authenticate answers 429 (defaults 10 and 5m).
	MaxLoginFailures   int
	LoginFailureWindow time.Duration
	// LoginLimiter counts those failures; nil: an in-process limiter
	// built from MaxLoginFailures and LoginFailureWindow. mail/cluster's
	// Redis limiter shares the counts between instances.
	LoginLimiter throttle.LoginLimiter
	// TicketNonces makes update-stream tickets single-use across every
	// instance (Redis in distributed mode); nil: per instance.
	TicketNonces NonceStore
	// SpamHeader and SpamValue are the Junk rule applied when submitted
	// mail is delivered to local users (as for LMTP; see package delivery).
	SpamHeader, SpamValue string
	// Updates bound the live change streams (see UpdatesOptions).
	Updates UpdatesOptions
	// Relay, when set, receives submitted mail for recipients that are not
	// local users (submit.go); nil: they are reported as not delivered.
	Relay *relay.Relay
}

// Handlers implements the generated strict server interface.
type Handlers struct {
	svc        *mail.Service
	log        *slog.Logger
	adminToken string
	tokens     *tokens
	limiter    throttle.LoginLimiter
	router     routers.Router
	metrics    *httpMetrics
	deliverer  *delivery.Deliverer
	relay      *relay.Relay // nil: no outbound relay
	updates    UpdatesOptions
	streams    *streamCounter
	followers  followerHub // one journal follower per user with live streams (updates_follow.go)
	tickets    *usedTickets
	// ticketNonces shares redeemed ticket nonces across instances (nil: none).
	ticketNonces NonceStore
}

var _ api.StrictServerInterface = (*Handlers)(nil)

// New returns the HTTP handler serving the API and the health check.
func New(svc *mail.Service, o Options) (http.Handler, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.MaxLoginFailures <= 0 {
		o.MaxLoginFailures = 10
	}
	if o.LoginFailureWindow <= 0 {
		o.LoginFailureWindow = 5 * time.Minute
	}
	if o.LoginLimiter == nil {
		o.LoginLimiter = throttle.NewLocalLimiter(o.MaxLoginFailures, o.LoginFailureWindow, nil)
	}
	if o.AdminToken != "" && len(o.AdminToken) < 16 {
		return nil, errors.New("http.admin_token: use at least 16 characters")
	}
	o.Updates.defaults()
	secret, err := loadSecret(o.TokenSecret, o.DataDir)
	if err != nil {
		return nil, err
	}
	doc, err := api.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("api contract: %w", err)
	}
	doc.Servers = nil // match any host: the server URL in the contract is an example
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("api contract router: %w", err)
	}
	h := &Handlers{
		svc:        svc,
		log:        o.Log,
		adminToken: o.AdminToken,
		tokens:     &tokens{secret: secret, ttl: o.TokenTTL, now: time.Now},
		limiter:    o.LoginLimiter,
		router:     router,
		metrics:    newMetrics(),
		// Local delivery of submitted mail: Junk rules as for LMTP, no
		// duplicate suppression (a user may send the same message twice).
		deliverer:    delivery.New(svc, delivery.Options{SpamHeader: o.SpamHeader, SpamValue: o.SpamValue, Log: o.Log}),
		relay:        o.Relay,
		updates:      o.Updates,
		streams:      &streamCounter{max: o.Updates.MaxPerUser, n: map[string]int{}},
		tickets:      &usedTickets{used: map[string]int64{}},
		ticketNonces: o.TicketNonces,
	}

	metrics.Default.GaugeFunc("eider_sessions", "Open sessions by protocol.",
		func() float64 { return float64(h.streams.total()) }, "protocol", "updates")

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true // handlers' ctx ends with the request
	e.Use(h.metrics.middleware, h.recoverProblem, h.contract)
	strict := api.NewStrictHandlerWithOptions(h, nil, api.StrictGinServerOptions{
		RequestErrorHandlerFunc: func(c *gin.Context, err error) {
			writeProblem(c, h.log, errInvalid("", "%v", err))
		},
		HandlerErrorFunc: func(c *gin.Context, err error) { writeProblem(c, h.log, err) },
		ResponseErrorHandlerFunc: func(c *gin.Context, err error) {
			h.log.Warn("api response not completed", "path", c.Request.URL.Path, "err", err)
		},
	})
	api.RegisterHandlersWithOptions(e, strict, api.GinServerOptions{
		ErrorHandler: func(c *gin.Context, err error, status int) {
			writeProblem(c, h.log, errInvalid("", "%v", err))
		},
	})
	return e, nil
}

// recoverProblem turns a panic in a handler into a 500 problem.
func (h *Handlers) recoverProblem(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			writeProblem(c, h.log, fmt.Errorf("panic: %v", r))
		}
	}()
	c.Next()
}

// contract finds the operation of a request in openapi.yaml, authenticates
// it when the operation has a security requirement, and validates the
// parameters and body against the contract. Only requests that pass reach
// the handlers.
func (h *Handlers) contract(c *gin.Context) {
	route, params, err := h.router.FindRoute(c.Request)
	if err != nil {
		if h.otherMethod(c.Request) {
			writeProblem(c, h.log, &apiError{status: http.StatusMethodNotAllowed, code: api.ProblemCodeMethodNotAllowed, detail: c.Request.Method + " is not allowed here"})
			return
		}
		writeProblem(c, h.log, errNotFound("no such route: "+c.Request.URL.Path))
		return
	}
	ri := &reqInfo{r: c.Request}
	sec := route.Operation.Security
	if sec == nil {
		sec = &route.Spec.Security
	}
	if len(*sec) > 0 {
		if tk := c.Query("ticket"); tk != "" && strings.EqualFold(route.Operation.OperationID, "getUpdates") && c.GetHeader("Authorization") == "" {
			// A browser's WebSocket: a single-use ticket instead of a header.
			ri.p, err = h.redeemTicket(c.Request.Context(), tk)
		} else {
			ri.p, err = h.authenticate(c.Request.Context(), c.Request)
		}
		if err != nil {
			writeProblem(c, h.log, err)
			return
		}
	}
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), reqInfoKey{}, ri))
	opts := openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         false,
	}
	if strings.Contains(c.ContentType(), "json") {
		// JSON is read whole for validation: bound it. A submission may
		// carry attachments (base64: 4/3 of their size) up to a message.
		limit := int64(maxJSONBody)
		if strings.EqualFold(route.Operation.OperationID, "submitMessage") {
			limit = h.svc.Limits.MaxSize/3*4 + maxJSONBody
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	}
	if strings.HasPrefix(c.ContentType(), "message/") {
		// Raw messages are streamed to the parser, not buffered for validation.
		opts.ExcludeRequestBody = true
	}
	in := &openapi3filter.RequestValidationInput{Request: c.Request, PathParams: params, Route: route, Options: &opts}
	if err := openapi3filter.ValidateRequest(c, in); err != nil {
		writeProblem(c, h.log, validationProblem(err))
		return
	}
	c.Next()
}

// otherMethod reports whether the path exists in the contract with another
// method (405 rather than 404, RFC 9110 §15.5.6).
func (h *Handlers) otherMethod(r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, _, err := h.router.FindRoute(r2); err == nil {
			return true
		}
	}
	return false
}

// validationProblem names the parameter or body field a validation error
// is about.
func validationProblem(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &apiError{status: http.StatusRequestEntityTooLarge, code: api.ProblemCodeTooLarge, detail: fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return errInvalid("", "%v", err)
	}
	field := ""
	if re.Parameter != nil {
		field = re.Parameter.Name
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		if ptr := se.JSONPointer(); len(ptr) > 0 && field == "" {
			field = strings.Join(ptr, ".")
		}
	}
	msg := re.Error()
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	return errInvalid(field, "%s", msg)
}
