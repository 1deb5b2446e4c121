package imap

import (
	"github.com/eidermail/eider/imap/wire"
)

func init() {
	register("ENABLE", handler{fn: (*Session).enable, states: inAuth})
}

// enable: ENABLE (RFC 5161 §3.1). Known extensions: CONDSTORE (RFC 7162
// §3.1) and UTF8=ACCEPT (RFC 6855 §3). "* ENABLED" lists only what this
// command newly enabled; unknown names are ignored (RFC 5161 §3.1).
func (s *Session) enable(cmd *wire.Command) error {
	a := cmd.Args.(*wire.EnableArgs)
	var enabled []string
	for _, c := range a.Capabilities {
		switch c {
		case "CONDSTORE":
			if !s.condstore {
				enabled = append(enabled, c)
			}
		case "UTF8=ACCEPT":
			if !s.utf8 {
				s.utf8 = true
				s.w.UTF8 = true
				enabled = append(enabled, c)
			}
		}
	}
	s.w.Enabled(enabled...)
	for _, c := range enabled {
		if c == "CONDSTORE" {
			s.enableCondstore() // after ENABLED: the HIGHESTMODSEQ of a selected mailbox
		}
	}
	return nil
}
