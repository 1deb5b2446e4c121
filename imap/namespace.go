package imap

import (
	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

func init() {
	register("NAMESPACE", handler{fn: (*Session).namespace, states: inAuth})
}

// delim is the hierarchy delimiter (the store's separator).
var delim = rune(store.Separator[0])

// namespace: NAMESPACE (RFC 2342 §5): one personal namespace, no others.
func (s *Session) namespace(*wire.Command) error {
	s.w.Namespace([]wire.NamespaceDesc{{Prefix: "", Delim: delim}}, nil, nil)
	return nil
}
