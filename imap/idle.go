package imap

import (
	"errors"
	"net"
	"time"

	"github.com/eidermail/eider/imap/wire"
)

func init() {
	register("IDLE", handler{fn: (*Session).idleCmd, states: inAuth})
}

// idleCmd: IDLE (RFC 2177). While idling, every beacon for the user makes
// the session read the journal and push EXISTS/EXPUNGE/FETCH at once
// (§3: the server may send any untagged response; EXPUNGE is allowed since
// a command is in progress). "DONE" ends it.
func (s *Session) idleCmd(cmd *wire.Command) error {
	if s.sel != nil {
		if err := s.update(true); err != nil {
			s.log.Error("imap journal read", "err", err)
		}
	}
	s.w.Continue("idling")
	if err := s.flush(); err != nil {
		return closeSession(err)
	}
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	s.conn.SetReadDeadline(time.Now().Add(s.srv.opt.IdleTimeout))
	s.idling = true   // the reader must not flush: this goroutine writes
	s.releaseWriter() // an idling session holds no write buffer
	go func() {
		// The only reader of the connection until it sends on done.
		line, err := s.r.ReadLine()
		done <- result{line, err}
	}()
	// stopReader ends the reading goroutine before the session goes on.
	stopReader := func() result {
		s.conn.SetReadDeadline(time.Now())
		res := <-done
		s.idling = false
		return res
	}
	for {
		select {
		case res := <-done:
			s.acquireWriter()
			s.idling = false
			s.busyDeadline()
			var ne net.Error
			var se *wire.SyntaxError
			switch {
			case errors.As(res.err, &se):
				return bad("", "expected DONE")
			case errors.As(res.err, &ne) && ne.Timeout():
				s.bye("autologout; idle for too long") // RFC 3501 §5.4
				return closeSession(res.err)
			case res.err != nil:
				return closeSession(res.err)
			case !wire.IsDone(res.line):
				return bad("", "expected DONE")
			}
			return nil
		case <-s.beacons:
			if s.sel == nil {
				continue
			}
			s.acquireWriter()
			s.dirty = true
			if err := s.update(true); err != nil {
				s.log.Error("imap journal read", "err", err)
			}
			if err := s.flush(); err != nil {
				stopReader()
				return closeSession(err)
			}
			if s.logout {
				stopReader()
				return closeSession(errors.New("selected mailbox deleted"))
			}
			s.releaseWriter()
		case <-s.srv.stop:
			s.acquireWriter()
			stopReader()
			s.bye("server shutting down")
			return closeSession(errors.New("shutdown"))
		}
	}
}
