package pop3

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/pop3/wire"
)

// plaintextOK reports whether passwords may be sent on this connection.
func (ss *session) plaintextOK() bool {
	o := ss.srv.opt
	return ss.secure || o.AllowPlaintext || (o.AllowPlaintextLoopback && ss.local)
}

const errNeedTLS = "plaintext authentication disallowed on non-secure connections; use STLS"

// capa lists the capabilities (RFC 2449 §5). USER and SASL are listed only
// where they may be used.
func (ss *session) capa(cmd wire.Command) {
	caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}
	if ss.state == stateAuth && ss.plaintextOK() {
		caps = append(caps, "USER", "SASL PLAIN")
	}
	if ss.state == stateAuth && ss.srv.opt.TLS != nil && !ss.secure {
		caps = append(caps, "STLS")
	}
	caps = append(caps, "IMPLEMENTATION Eider")
	ss.w.OK("capability list follows")
	ss.w.Lines(caps...)
}

// userCmd: USER name (RFC 1939 §7).
func (ss *session) userCmd(cmd wire.Command) {
	if !ss.plaintextOK() {
		ss.w.Err(wire.CodeAuth, errNeedTLS)
		return
	}
	if cmd.Rest == "" {
		ss.w.Err(wire.CodeNone, "USER needs a name")
		return
	}
	ss.userArg = cmd.Rest
	ss.w.OK("send PASS")
}

// passCmd: PASS string; the rest of the line is the password, spaces
// included (RFC 1939 §7).
func (ss *session) passCmd(cmd wire.Command) {
	if ss.userArg == "" {
		ss.w.Err(wire.CodeNone, "USER first")
		return
	}
	if !ss.plaintextOK() {
		ss.w.Err(wire.CodeAuth, errNeedTLS)
		return
	}
	login := ss.userArg
	ss.userArg = ""
	ss.login(login, cmd.Rest)
}

// authCmd: AUTH PLAIN [initial-response] (RFC 5034 §4, RFC 4616). Without
// an argument it lists the mechanisms, as many clients expect.
func (ss *session) authCmd(cmd wire.Command) {
	if len(cmd.Args) == 0 {
		ss.w.OK("SASL mechanisms follow")
		if ss.plaintextOK() {
			ss.w.Lines("PLAIN")
		} else {
			ss.w.Lines()
		}
		return
	}
	if !strings.EqualFold(cmd.Args[0], "PLAIN") {
		ss.w.Err(wire.CodeNone, "unsupported SASL mechanism")
		return
	}
	if !ss.plaintextOK() {
		ss.w.Err(wire.CodeAuth, errNeedTLS)
		return
	}
	if len(cmd.Args) > 2 {
		ss.w.Err(wire.CodeNone, "AUTH PLAIN takes one initial response")
		return
	}
	var resp string
	if len(cmd.Args) == 2 {
		resp = cmd.Args[1]
	} else {
		ss.w.Continue("")
		if err := ss.w.Flush(); err != nil {
			ss.quit = true
			return
		}
		line, err := ss.r.ReadLine()
		if err != nil {
			ss.quit = true
			return
		}
		resp = string(line)
	}
	if resp == "*" { // RFC 5034 §4: the client cancels
		ss.w.Err(wire.CodeNone, "authentication cancelled")
		return
	}
	if resp == "=" { // RFC 5034 §4: empty initial response
		resp = ""
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		ss.w.Err(wire.CodeNone, "invalid base64")
		return
	}
	// RFC 4616 §2: [authzid] NUL authcid NUL passwd
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		ss.w.Err(wire.CodeNone, "malformed PLAIN response")
		return
	}
	authz, authc, pw := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != authc {
		ss.fail("authorization identity differs from the login")
		return
	}
	ss.login(authc, pw)
}

// login authenticates, takes the maildrop lock and loads the listing.
// With a LoginLimiter, a client address past its failed-login limit is
// refused before the password is checked, failures count against the
// address and a success clears them; a limiter error (Redis away) is
// logged and does not refuse the login.
func (ss *session) login(login, pw string) {
	lim := ss.srv.opt.LoginLimiter
	if lim != nil {
		left, blocked, err := lim.Blocked(ss.ctx, ss.host)
		if err != nil {
			ss.log.Warn("pop3 login limiter", "err", err)
		} else if blocked {
			ss.log.Info("pop3 login refused: too many failed logins from the address", "login", login, "retry", left)
			ss.fail(fmt.Sprintf("too many failed logins from your address; try again in %d s", int(left/time.Second)+1))
			return
		}
	}
	u, err := ss.srv.opt.Service.Authenticate(ss.ctx, login, pw)
	switch {
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrUserDisabled):
		ss.log.Info("pop3 login failed", "login", login, "err", err)
		if lim != nil {
			if _, err := lim.Fail(ss.ctx, ss.host); err != nil {
				ss.log.Warn("pop3 login limiter", "err", err)
			}
		}
		ss.fail("invalid login or password")
		return
	case err != nil:
		ss.log.Error("pop3 login", "login", login, "err", err)
		ss.w.Err(wire.CodeSysTemp, "temporary failure, try again later")
		return
	}
	if lim != nil {
		if err := lim.Succeed(ss.ctx, ss.host); err != nil {
			ss.log.Warn("pop3 login limiter", "err", err)
		}
	}
	unlock, err := ss.srv.opt.Locker.Lock(ss.ctx, "pop3:"+u.ID)
	if errors.Is(err, ErrLocked) {
		ss.w.Err(wire.CodeInUse, "maildrop is in use by another session")
		return
	}
	if err != nil {
		ss.log.Error("pop3 lock", "user", u.Username, "err", err)
		ss.w.Err(wire.CodeSysTemp, "cannot lock maildrop, try again later")
		return
	}
	if err := ss.load(u); err != nil {
		unlock()
		ss.log.Error("pop3 load maildrop", "user", u.Username, "err", err)
		ss.w.Err(wire.CodeSysTemp, "cannot open maildrop, try again later")
		return
	}
	ss.user, ss.unlock, ss.state = u, unlock, stateTrans
	n, size := ss.totals()
	ss.log.Info("pop3 login", "user", u.Username, "messages", n, "tls", ss.secure)
	ss.w.OK(fmt.Sprintf("maildrop has %d messages (%d octets)", n, size))
}

// fail answers a failed login after the configured delay and closes the
// connection after too many (RFC 2449 §8 AUTH-RESP-CODE).
func (ss *session) fail(reason string) {
	ss.failures++
	if d := ss.srv.opt.FailureDelay; d > 0 {
		ss.w.Flush()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ss.ctx.Done():
			t.Stop()
		}
	}
	if ss.failures >= ss.srv.opt.MaxFailures {
		ss.w.Err(wire.CodeAuth, reason+"; too many failures, closing")
		ss.quit = true
		return
	}
	ss.w.Err(wire.CodeAuth, reason)
}

// stls: STLS (RFC 2595 §4).
func (ss *session) stls(cmd wire.Command) {
	if ss.srv.opt.TLS == nil || ss.secure {
		ss.w.Err(wire.CodeNone, "STLS not available")
		return
	}
	ss.w.OK("begin TLS negotiation")
	if err := ss.w.Flush(); err != nil {
		ss.quit = true
		return
	}
	if err := ss.startTLS(); err != nil {
		ss.log.Info("pop3 STLS handshake failed", "err", err)
		ss.quit = true
	}
}
