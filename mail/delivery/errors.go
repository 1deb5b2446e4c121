package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/eidermail/eider/mail/address"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// ErrTooLarge is wrapped by a message reader (the LMTP/SMTP listener's) to
// say the message exceeded the transport's size limit (RFC 1870 SIZE).
var ErrTooLarge = errors.New("message too large")

// ErrLineTooLong is wrapped by a message reader to say a line of the
// message exceeded the listener's line limit (RFC 5321 §4.5.3.1.6).
var ErrLineTooLong = errors.New("message line too long")

// Error is a delivery failure with its SMTP reply code and enhanced status
// code (RFC 3463). Every failure a Deliverer reports is an *Error, so a
// listener can always answer with a precise code: nothing is dropped
// silently.
type Error struct {
	// Code is the SMTP reply code (RFC 5321 §4.2): 4xx temporary, 5xx permanent.
	Code int
	// Status is the enhanced status code class.subject.detail (RFC 3463 §3).
	Status [3]int
	// Message is the human-readable text of the reply.
	Message string
	// Err is the cause, for logs.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Status[0], e.Status[1], e.Status[2], e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the sender should retry (4xx).
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// Classify maps a failure from resolution, parsing or storing to the reply
// the sender gets (RFC 3463 §3.1 subjects):
//
//	store.ErrNotFound        550 5.1.1  bad destination mailbox address
//	address.ErrInvalid       501 5.1.3  bad destination address syntax
//	store.ErrUserDisabled    550 5.2.1  mailbox disabled
//	store.ErrOverQuota       552 5.2.2  mailbox full
//	ErrTooLarge, *mimetree.LimitError
//	                         552 5.3.4  message too big for system
//	ErrLineTooLong           554 5.6.0  (media error: the same data always fails)
//	anything else            451 4.3.0  temporary system failure
//
// An *Error passes through unchanged; nil gives nil.
func Classify(err error) *Error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	var le *mimetree.LimitError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{550, [3]int{5, 1, 1}, "no such user here", err}
	case errors.Is(err, address.ErrInvalid):
		return &Error{501, [3]int{5, 1, 3}, "bad recipient address syntax", err}
	case errors.Is(err, store.ErrUserDisabled):
		return &Error{550, [3]int{5, 2, 1}, "mailbox disabled", err}
	case errors.Is(err, store.ErrOverQuota):
		return &Error{552, [3]int{5, 2, 2}, "mailbox full: over quota", err}
	case errors.Is(err, ErrTooLarge), errors.As(err, &le):
		return &Error{552, [3]int{5, 3, 4}, "message too big", err}
	case errors.Is(err, ErrLineTooLong):
		return &Error{554, [3]int{5, 6, 0}, "message has a line longer than this server accepts", err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{451, [3]int{4, 3, 0}, "delivery interrupted, try again later", err}
	}
	return &Error{451, [3]int{4, 3, 0}, "temporary store failure, try again later", err}
}
