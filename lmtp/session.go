package lmtp

import (
	"io"
	"slices"
	"sync"

	"github.com/emersion/go-smtp"

	"github.com/eidermail/eider/mail/delivery"
)

// session is one SMTP/LMTP connection's transaction state.
type session struct {
	s      *Server
	tc     *trackedConn // nil only when not served through Serve
	remote string
	// mu guards utf8, env and rcpts. For BDAT, go-smtp runs Data or
	// LMTPData in a goroutine of its own, and when a chunk cannot be read
	// it resets the session from the connection's goroutine without
	// waiting for that one; deliver therefore works on a copy.
	mu   sync.Mutex
	utf8 bool // MAIL FROM carried SMTPUTF8 (RFC 6531 §3.4)
	env  delivery.Envelope
	// rcpts are the RCPT arguments in order, repeats included, for LMTP's
	// one-reply-per-RCPT rule (RFC 2033 §4.2).
	rcpts []string
}

var _ smtp.LMTPSession = (*session)(nil)

// errNeedUTF8 is RFC 6531 §3.5's reply to a non-ASCII address in a
// transaction that did not ask for SMTPUTF8.
var errNeedUTF8 = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 6, 7}, Message: "non-ASCII address requires the SMTPUTF8 parameter"}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Mail starts a transaction (RFC 5321 §4.1.1.2).
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if !opts.UTF8 && !isASCII(from) {
		return errNeedUTF8
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.resetLocked()
	ss.utf8 = opts.UTF8
	ss.env.From = from
	return nil
}

// Rcpt resolves a recipient now, so an unknown user gets 550 5.1.1 at RCPT
// time (RFC 5321 §3.3) and never a bounce later.
func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	ss.mu.Lock()
	utf8 := ss.utf8
	ss.mu.Unlock()
	if !utf8 && !isASCII(to) {
		return errNeedUTF8
	}
	r, err := ss.s.opt.Deliverer.Resolve(ss.s.ctx, to)
	if err != nil {
		ss.s.opt.Log.Info("recipient refused", "remote", ss.remote, "rcpt", to, "err", err)
		return toSMTP(delivery.Classify(err))
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.rcpts = append(ss.rcpts, to)
	for _, have := range ss.env.Recipients {
		if have.Address == to {
			return nil
		}
	}
	ss.env.Recipients = append(ss.env.Recipients, *r)
	return nil
}

// Data delivers for the SMTP maildrop, which has one reply for the whole
// transaction: if any recipient failed, the first failure is returned (a
// temporary one first, so the sender retries; the recipients that
// succeeded are then suppressed as duplicates by Message-ID).
func (ss *session) Data(r io.Reader) error {
	res, _, err := ss.deliver(r)
	if err != nil {
		return err
	}
	var perm error
	for _, x := range res {
		if x.Err != nil {
			if x.Err.Temporary() {
				return toSMTP(x.Err)
			}
			if perm == nil {
				perm = toSMTP(x.Err)
			}
		}
	}
	return perm
}

// LMTPData delivers and reports one status per RCPT (RFC 2033 §4.2).
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	res, rcpts, err := ss.deliver(r)
	if err != nil {
		return err
	}
	byAddr := make(map[string]error, len(res))
	for _, x := range res {
		if x.Err != nil {
			byAddr[x.Recipient.Address] = toSMTP(x.Err)
		} else {
			byAddr[x.Recipient.Address] = nil
		}
	}
	for _, to := range rcpts {
		status.SetStatus(to, byAddr[to])
	}
	return nil
}

// deliver stores the message for the transaction's recipients; it also
// returns the RCPT arguments the results are for.
func (ss *session) deliver(r io.Reader) ([]delivery.Result, []string, error) {
	ss.mu.Lock()
	env := delivery.Envelope{From: ss.env.From, Recipients: slices.Clone(ss.env.Recipients)}
	rcpts := slices.Clone(ss.rcpts)
	ss.mu.Unlock()
	if ss.tc != nil && ss.tc.pending.CompareAndSwap(true, false) {
		ss.s.end() // the previous transaction's replies were pipelined past a read
	}
	if !ss.s.begin() {
		return nil, nil, errShuttingDown
	}
	defer func() {
		if ss.tc != nil {
			ss.tc.pending.Store(true) // ended by the next read: see trackedConn
		} else {
			ss.s.end()
		}
	}()
	ss.s.opt.Log.Debug("delivery started", "remote", ss.remote, "from", env.From, "rcpts", len(env.Recipients))
	body, finish := dataBody(r, ss.s.opt.MaxMessageBytes)
	defer finish()
	return ss.s.opt.Deliverer.Deliver(ss.s.ctx, &env, limitErrors{body}), rcpts, nil
}

// Reset discards the transaction (RSET, or a new MAIL).
func (ss *session) Reset() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.resetLocked()
}

func (ss *session) resetLocked() {
	ss.utf8 = false
	ss.env = delivery.Envelope{}
	ss.rcpts = nil
}

func (ss *session) Logout() error { return nil }

// toSMTP converts a delivery error to go-smtp's reply; nil stays nil.
func toSMTP(e *delivery.Error) error {
	if e == nil {
		return nil
	}
	return &smtp.SMTPError{Code: e.Code, EnhancedCode: smtp.EnhancedCode(e.Status), Message: e.Message}
}
