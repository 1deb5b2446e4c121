package imap

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/mail/throttle"
)

func init() {
	register("LOGIN", handler{fn: (*Session).login, states: notAuthenticated})
	register("AUTHENTICATE", handler{fn: (*Session).authenticate, states: notAuthenticated})
	register("STARTTLS", handler{fn: (*Session).starttls, states: notAuthenticated})
}

// errAnswered: the handler already wrote its tagged response (STARTTLS,
// COMPRESS: the answer must precede the change of transport).
var errAnswered = errors.New("imap: answered by the handler")

const msgNeedTLS = "plaintext authentication is disallowed on non-secure connections; use STARTTLS or the TLS port"

// login: LOGIN userid password (RFC 3501 §6.2.3); refused with NO while
// LOGINDISABLED is advertised.
func (s *Session) login(cmd *wire.Command) error {
	a := cmd.Args.(*wire.LoginArgs)
	if !s.plaintextOK() {
		return no(wire.CodePrivacyRequired, msgNeedTLS)
	}
	return s.logIn(a.Username, a.Password)
}

// authenticate: AUTHENTICATE PLAIN [initial-response] (RFC 3501 §6.2.2,
// SASL-IR RFC 4959, PLAIN RFC 4616).
func (s *Session) authenticate(cmd *wire.Command) error {
	a := cmd.Args.(*wire.AuthenticateArgs)
	if a.Mechanism != "PLAIN" {
		return no("", "unsupported authentication mechanism")
	}
	if !s.plaintextOK() {
		return no(wire.CodePrivacyRequired, msgNeedTLS)
	}
	resp := a.InitialResponse
	if !a.HasInitialResponse {
		s.w.ContinueBase64(nil) // "+ " (RFC 4959 §3: empty challenge)
		if err := s.flush(); err != nil {
			return closeSession(err)
		}
		s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
		line, err := s.r.ReadLine()
		s.busyDeadline()
		var se *wire.SyntaxError
		if errors.As(err, &se) {
			return bad("", "SASL response too long")
		}
		if err != nil {
			return closeSession(err)
		}
		data, cancel, derr := wire.DecodeSASLResponse(line)
		switch {
		case cancel: // RFC 3501 §6.2.2: "*" cancels, answered BAD
			return bad("", "authentication cancelled")
		case derr != nil:
			return bad("", "invalid base64 in SASL response")
		}
		resp = data
	}
	// RFC 4616 §2: [authzid] NUL authcid NUL passwd
	parts := bytes.Split(resp, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return bad("", "malformed PLAIN response")
	}
	authz, authc, pw := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != authc {
		return s.failed(wire.CodeAuthorizationFailed, "authorization identity must be empty or equal the login")
	}
	return s.logIn(authc, pw)
}

// logIn checks the password and enters the authenticated state. With a
// LoginLimiter, a client address past its failed-login limit is refused
// before the password is checked, failures count against the address and a
// success clears them. A limiter error (Redis away) is logged and does not
// refuse the login: the per-connection MaxFailures still applies.
func (s *Session) logIn(login, pw string) error {
	lim := s.srv.opt.LoginLimiter
	if lim != nil {
		left, blocked, err := lim.Blocked(s.ctx, s.host)
		if err != nil {
			s.log.Warn("imap login limiter", "err", err)
		} else if blocked {
			s.log.Info("imap login refused: too many failed logins from the address", "login", login, "retry", left)
			return s.failed(wire.CodeUnavailable, fmt.Sprintf("too many failed logins from your address; try again in %d s", int(left/time.Second)+1))
		}
	}
	u, err := s.svc.Authenticate(s.ctx, login, pw)
	switch {
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrUserDisabled):
		s.log.Info("imap login failed", "login", login, "err", err)
		if lim != nil {
			if _, err := lim.Fail(s.ctx, s.host); err != nil {
				s.log.Warn("imap login limiter", "err", err)
			}
		}
		return s.failed(wire.CodeAuthenticationFailed, "invalid login or password")
	case err != nil:
		s.log.Error("imap login", "login", login, "err", err)
		return no(wire.CodeUnavailable, "temporary failure, try again later")
	}
	if lim != nil {
		if err := lim.Succeed(s.ctx, s.host); err != nil {
			s.log.Warn("imap login limiter", "err", err)
		}
	}
	if err := s.srv.addUser(s.ctx, u.ID); errors.Is(err, throttle.ErrTooMany) {
		s.log.Info("imap login refused: too many sessions", "login", login)
		return no(wire.CodeLimit, "too many sessions for this user")
	} else if err != nil {
		s.log.Error("imap login", "login", login, "err", err)
		return no(wire.CodeUnavailable, "temporary failure, try again later")
	}
	s.user = u
	if err := s.subscribe(); err != nil {
		s.srv.removeUser(u.ID)
		s.user = nil
		s.log.Error("imap login", "login", login, "err", err)
		return no(wire.CodeUnavailable, "temporary failure, try again later")
	}
	s.state = authenticated
	s.log = s.log.With("user", u.Username)
	s.log.Info("imap login", "tls", s.secure)
	// RFC 3501 §7.2.1 / RFC 9051 §6.2.3: capabilities change after login;
	// send them in the tagged OK so clients need not ask.
	return okReply(wire.CodeCapability(s.capabilities()...), "logged in")
}

// failed answers a failed login after the configured delay; too many close
// the connection.
func (s *Session) failed(code wire.Code, text string) error {
	s.failures++
	if d := s.srv.opt.FailureDelay; d > 0 {
		s.flush()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.srv.stop:
			t.Stop()
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	if s.failures >= s.srv.opt.MaxFailures {
		s.log.Info("imap too many failed logins; closing", "failures", s.failures)
		s.w.StatusResponse("", wire.BYE, "", "too many failed logins")
		s.logout = true
	}
	return no(code, "%s", text)
}

// starttls: STARTTLS (RFC 3501 §6.2.1, RFC 2595 §3.1). Input pipelined
// behind the command is discarded, not executed (command injection).
func (s *Session) starttls(cmd *wire.Command) error {
	if s.srv.opt.TLS == nil {
		return no("", "TLS is not available")
	}
	if s.secure {
		return bad("", "TLS is already active")
	}
	if s.r.Buffered() > 0 {
		s.log.Info("imap data pipelined after STARTTLS; closing")
		s.w.StatusResponse(cmd.Tag, wire.BAD, "", "data after STARTTLS")
		s.flush()
		return closeSession(errors.New("data pipelined after STARTTLS"))
	}
	s.w.StatusResponse(cmd.Tag, wire.OK, "", "begin TLS negotiation now")
	if err := s.flush(); err != nil {
		return closeSession(err)
	}
	tc := tls.Server(s.conn, s.srv.opt.TLS)
	s.conn.SetDeadline(time.Now().Add(s.srv.opt.PreAuthTimeout))
	err := tc.HandshakeContext(s.ctx)
	s.conn.SetWriteDeadline(time.Now().Add(s.srv.opt.IdleTimeout))
	s.busyDeadline()
	if err != nil {
		return closeSession(err)
	}
	s.resetTransport(tc)
	s.secure = true
	return errAnswered
}
