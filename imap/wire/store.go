package wire

// StoreMode says how STORE changes flags (RFC 3501 §6.4.6).
type StoreMode int

const (
	StoreReplace StoreMode = iota // FLAGS
	StoreAdd                      // +FLAGS
	StoreRemove                   // -FLAGS
)

// StoreArgs: STORE / UID STORE (RFC 3501 §6.4.6, RFC 7162 §3.1.3
// UNCHANGEDSINCE).
type StoreArgs struct {
	Set    NumSet
	Mode   StoreMode
	Silent bool     // .SILENT: no untagged FETCH for the change
	Flags  []string // system flags canonical; may be empty ("FLAGS ()")
	// UnchangedSince is the UNCHANGEDSINCE modifier (0 is valid: it fails
	// for every message that has a mod-sequence).
	UnchangedSince    uint64
	HasUnchangedSince bool
}

// parseStore: "STORE" SP sequence-set [store-modifiers] SP store-att-flags;
// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
// (flag *(SP flag))) (RFC 3501 §9, RFC 4466 §2.5, RFC 7162 §7).
func parseStore(r *Reader, _ *Command) (any, error) {
	a := &StoreArgs{}
	var err error
	if err = r.sp(); err != nil {
		return nil, err
	}
	if a.Set, err = r.numSet(); err != nil {
		return nil, err
	}
	if err = r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		err = r.list(false, func() error {
			w, err := r.word()
			if err != nil {
				return err
			}
			if w != "UNCHANGEDSINCE" {
				return errorf("unknown STORE modifier %s", w)
			}
			if err := r.sp(); err != nil {
				return err
			}
			if a.UnchangedSince, err = r.number64(); err != nil {
				return err
			}
			a.HasUnchangedSince = true
			return nil
		})
		if err != nil {
			return nil, err
		}
		if err = r.sp(); err != nil {
			return nil, err
		}
	}
	switch r.peek() {
	case '+':
		a.Mode = StoreAdd
		r.pos++
	case '-':
		a.Mode = StoreRemove
		r.pos++
	}
	w, err := r.word()
	if err != nil {
		return nil, r.errExpected("FLAGS")
	}
	switch w {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		return nil, errorf("expected FLAGS, +FLAGS or -FLAGS")
	}
	if err = r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		if a.Flags, err = r.flagList(); err != nil {
			return nil, err
		}
		return a, nil
	}
	a.Flags = []string{}
	for {
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		a.Flags = append(a.Flags, f)
		if r.eol() {
			return a, nil
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
}
