// Package accept holds the accept loop the mail front-ends (IMAP, POP3)
// share.
package accept

import (
	"errors"
	"net"
	"time"
)

// Loop accepts connections on ln and hands each to handle, which must not
// block (it starts the session's goroutine). It returns when Accept fails:
// nil when closing reports that the server is shutting down (Shutdown
// closed ln), the error otherwise. Timeouts (e.g. a full file descriptor
// table) back off from 5 ms up to 1 s instead of spinning.
func Loop(ln net.Listener, closing func() bool, handle func(net.Conn)) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if closing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay) // accept back-off, not synchronisation
				continue
			}
			return err
		}
		delay = 0
		handle(c)
	}
}
