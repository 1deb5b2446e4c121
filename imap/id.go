package imap

import (
	"github.com/eidermail/eider/imap/wire"
)

func init() {
	register("ID", handler{fn: (*Session).id, states: anyState})
}

// id: ID (RFC 2971 §3.1). The client's fields are logged once; the server
// answers with its name.
func (s *Session) id(cmd *wire.Command) error {
	a := cmd.Args.(*wire.IDArgs)
	if a.Params != nil && s.clientID == nil {
		s.clientID = a.Params
		attrs := make([]any, 0, 2*len(a.Params))
		for _, p := range a.Params {
			attrs = append(attrs, "id."+p.Key, p.Value)
		}
		s.log.Info("imap client id", attrs...)
	}
	s.w.ID([]wire.IDParam{{Key: "name", Value: "Eider"}, {Key: "vendor", Value: "Eider"}})
	return nil
}
