package wire

// ListArgs: LIST and LSUB (RFC 3501 §6.3.8, §6.3.9), with the extended LIST
// syntax (RFC 5258 §3, RFC 6154 §5, RFC 5819 §2).
//
// Reference and Patterns are returned as sent (not INBOX-normalised:
// patterns may contain the wildcards "*" and "%").
type ListArgs struct {
	Reference string
	Patterns  []string // at least one; more only with the extended syntax
	// Extended is set when the extended syntax was used: selection options,
	// return options or a parenthesised pattern list. The session then
	// answers in the RFC 5258 style (e.g. \NonExistent, CHILDINFO).
	Extended bool

	// Selection options (RFC 5258 §3.1, RFC 6154 §5.1).
	SelectSubscribed     bool
	SelectRemote         bool
	SelectRecursiveMatch bool
	SelectSpecialUse     bool

	// Return options (RFC 5258 §3.2, RFC 6154 §5.2, RFC 5819 §2).
	ReturnSubscribed bool
	ReturnChildren   bool
	ReturnSpecialUse bool
	ReturnStatus     []StatusItem // nil unless RETURN (STATUS (...))
}

// parseList parses
//
//	list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
//	lsub = "LSUB" SP mailbox SP list-mailbox
//
// (RFC 5258 §6, RFC 3501 §9).
func parseList(r *Reader, cmd *Command) (any, error) {
	a := &ListArgs{}
	if err := r.sp(); err != nil {
		return nil, err
	}
	lsub := cmd.Name == "LSUB"
	if !lsub && r.peek() == '(' {
		a.Extended = true
		err := r.list(true, func() error {
			w, err := r.word()
			if err != nil {
				return err
			}
			switch w {
			case "SUBSCRIBED":
				a.SelectSubscribed = true
			case "REMOTE":
				a.SelectRemote = true
			case "RECURSIVEMATCH":
				a.SelectRecursiveMatch = true
			case "SPECIAL-USE":
				a.SelectSpecialUse = true
			default:
				return errorf("unknown LIST selection option %s", w)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		// RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) is
		// an error.
		if a.SelectRecursiveMatch && !a.SelectSubscribed && !a.SelectSpecialUse {
			return nil, errorf("RECURSIVEMATCH needs another selection option")
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	var err error
	if a.Reference, err = r.astring(); err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if !lsub && r.peek() == '(' {
		a.Extended = true
		err = r.list(false, func() error {
			p, err := r.listMailbox()
			if err == nil {
				a.Patterns = append(a.Patterns, p)
			}
			return err
		})
	} else {
		var p string
		p, err = r.listMailbox()
		a.Patterns = []string{p}
	}
	if err != nil {
		return nil, err
	}
	if lsub || r.eol() {
		return a, nil
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if !r.peekWord("RETURN") {
		return nil, r.errExpected("RETURN")
	}
	r.pos += len("RETURN")
	if err := r.sp(); err != nil {
		return nil, err
	}
	a.Extended = true
	err = r.list(true, func() error {
		w, err := r.word()
		if err != nil {
			return err
		}
		switch w {
		case "SUBSCRIBED":
			a.ReturnSubscribed = true
		case "CHILDREN":
			a.ReturnChildren = true
		case "SPECIAL-USE":
			a.ReturnSpecialUse = true
		case "STATUS": // RFC 5819 §6
			if a.ReturnStatus != nil {
				return errorf("duplicate STATUS return option")
			}
			if err := r.sp(); err != nil {
				return err
			}
			items, err := r.statusItems()
			if err != nil {
				return err
			}
			a.ReturnStatus = items
		default:
			return errorf("unknown LIST return option %s", w)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}
