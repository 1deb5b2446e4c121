package imap

import (
	"fmt"
	"strings"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

func init() {
	register("LIST", handler{fn: (*Session).list, states: inAuth})
	register("LSUB", handler{fn: (*Session).list, states: inAuth})
}

// matchPattern reports whether name matches a LIST pattern (RFC 3501
// §6.3.8): "*" matches any run of characters, "%" any run without the
// hierarchy delimiter. Both are compared in the same (wire) encoding.
func matchPattern(pattern, name string) bool {
	for len(pattern) > 0 {
		switch c := pattern[0]; c {
		case '*', '%':
			rest := pattern[1:]
			for i := 0; i <= len(name); i++ {
				if matchPattern(rest, name[i:]) {
					return true
				}
				if i < len(name) && c == '%' && name[i] == byte(delim) {
					return false
				}
			}
			return false
		default:
			if len(name) == 0 || name[0] != c {
				return false
			}
			pattern, name = pattern[1:], name[1:]
		}
	}
	return len(name) == 0
}

// canonicalPattern joins reference and pattern (RFC 3501 §6.3.8) and
// spells an INBOX prefix the way names are stored (INBOX is
// case-insensitive, RFC 3501 §5.1).
func canonicalPattern(ref, pat string) string {
	p := pat
	if ref != "" && !strings.HasPrefix(pat, string(delim)) {
		p = ref + pat
	}
	if len(p) >= 5 && strings.EqualFold(p[:5], "INBOX") && (len(p) == 5 || p[5] == byte(delim)) {
		p = "INBOX" + p[5:]
	}
	return p
}

// list: LIST and LSUB (RFC 3501 §6.3.8, §6.3.9) with LIST-EXTENDED
// selection and return options (RFC 5258), SPECIAL-USE (RFC 6154 §5),
// CHILDREN (RFC 3348) and LIST-STATUS (RFC 5819).
func (s *Session) list(cmd *wire.Command) error {
	a := cmd.Args.(*wire.ListArgs)
	lsub := cmd.Name == "LSUB"
	// RFC 3501 §6.3.8: an empty pattern asks for the delimiter and root.
	if !a.Extended && len(a.Patterns) == 1 && a.Patterns[0] == "" {
		root := ""
		if i := strings.IndexRune(a.Reference, delim); i >= 0 {
			root = a.Reference[:i+1]
		}
		s.w.ListResponse(lsub, wire.ListData{Attrs: []string{`\Noselect`}, Delim: delim, Mailbox: root})
		return nil
	}
	mbs, err := s.svc.Store.ListMailboxes(s.ctx, s.user.ID)
	if err != nil {
		return fmt.Errorf("list mailboxes: %w", err)
	}
	hasChildren := map[string]bool{}
	subscribedChild := map[string]bool{} // has a subscribed inferior
	for _, mb := range mbs {
		for p := mb.Name; ; {
			i := strings.LastIndex(p, store.Separator)
			if i < 0 {
				break
			}
			p = p[:i]
			hasChildren[p] = true
			if mb.Subscribed {
				subscribedChild[p] = true
			}
		}
	}
	patterns := make([]string, len(a.Patterns))
	for i, p := range a.Patterns {
		patterns[i] = canonicalPattern(a.Reference, p)
	}
	onlySubscribed := lsub || a.SelectSubscribed
	for _, mb := range mbs {
		wn := s.wireName(mb.Name)
		matched := false
		for _, p := range patterns {
			if matchPattern(p, wn) {
				matched = true
				break
			}
		}
		if !matched {
			continue
		}
		var childInfo []string
		if onlySubscribed && !mb.Subscribed {
			// RFC 5258 §3.5 RECURSIVEMATCH: a parent of subscribed
			// mailboxes is listed with CHILDINFO.
			if !(a.SelectRecursiveMatch && subscribedChild[mb.Name]) {
				continue
			}
			childInfo = []string{"SUBSCRIBED"}
		} else if a.SelectRecursiveMatch && a.SelectSubscribed && subscribedChild[mb.Name] {
			childInfo = []string{"SUBSCRIBED"}
		}
		if a.SelectSpecialUse && mb.SpecialUse == "" {
			continue
		}
		var attrs []string
		if !lsub {
			if hasChildren[mb.Name] {
				attrs = append(attrs, `\HasChildren`)
			} else {
				attrs = append(attrs, `\HasNoChildren`)
			}
			if mb.SpecialUse != "" {
				attrs = append(attrs, mb.SpecialUse)
			}
			if mb.Subscribed && (a.ReturnSubscribed || a.SelectSubscribed) {
				attrs = append(attrs, `\Subscribed`)
			}
		}
		if attrs == nil {
			attrs = []string{}
		}
		s.w.ListResponse(lsub, wire.ListData{Attrs: attrs, Delim: delim, Mailbox: wn, ChildInfo: childInfo})
		if a.ReturnStatus != nil && (!onlySubscribed || mb.Subscribed) {
			mb := mb
			if err := s.writeStatus(&mb, a.ReturnStatus); err != nil {
				return err
			}
		}
	}
	return nil
}
