package wire

import (
	"strconv"
	"strings"
)

// FetchKind is the kind of a FETCH data item (RFC 3501 §6.4.5).
type FetchKind int

const (
	FetchFlags         FetchKind = iota // FLAGS
	FetchInternalDate                   // INTERNALDATE
	FetchRFC822                         // RFC822 (= BODY[], sets \Seen)
	FetchRFC822Header                   // RFC822.HEADER (= BODY.PEEK[HEADER])
	FetchRFC822Size                     // RFC822.SIZE
	FetchRFC822Text                     // RFC822.TEXT (= BODY[TEXT], sets \Seen)
	FetchEnvelope                       // ENVELOPE
	FetchBody                           // BODY: non-extensible BODYSTRUCTURE
	FetchBodyStructure                  // BODYSTRUCTURE
	FetchUID                            // UID
	FetchModSeq                         // MODSEQ (RFC 7162 §3.1.4)
	FetchBodySection                    // BODY[section]<partial>, BODY.PEEK[...]
	FetchBinary                         // BINARY[part]<partial>, BINARY.PEEK[...] (RFC 3516)
	FetchBinarySize                     // BINARY.SIZE[part] (RFC 3516)
)

// Section specifiers (RFC 3501 §6.4.5 section-msgtext / section-text).
const (
	SpecHeader          = "HEADER"
	SpecHeaderFields    = "HEADER.FIELDS"
	SpecHeaderFieldsNot = "HEADER.FIELDS.NOT"
	SpecText            = "TEXT"
	SpecMIME            = "MIME"
)

// Section is the part of a message a BODY[...] or BINARY[...] item names.
// Parts is the MIME part path ("1.2.3" -> [1 2 3]), empty for the whole
// message. Specifier is "" (the whole part), or one of the Spec constants;
// Fields holds the header names of HEADER.FIELDS[.NOT], as sent.
type Section struct {
	Parts     []uint32
	Specifier string
	Fields    []string
}

// String formats the section without brackets, e.g. `1.2.HEADER.FIELDS (From To)`.
func (s Section) String() string {
	var b strings.Builder
	for i, p := range s.Parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(p), 10))
	}
	if s.Specifier != "" {
		if len(s.Parts) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Specifier)
	}
	if s.Specifier == SpecHeaderFields || s.Specifier == SpecHeaderFieldsNot {
		b.WriteString(" (")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(FormatAString(f, false))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Partial is the <offset.count> of a BODY/BINARY item.
type Partial struct {
	Offset uint64
	Count  uint64 // > 0
}

// FetchItem is one requested FETCH data item.
type FetchItem struct {
	Kind    FetchKind
	Peek    bool     // BODY.PEEK / BINARY.PEEK: do not set \Seen
	Section Section  // FetchBodySection, FetchBinary, FetchBinarySize
	Partial *Partial // nil if absent
}

// SetsSeen reports whether fetching the item implicitly sets \Seen
// (RFC 3501 §6.4.5): BODY[...], BINARY[...], RFC822 and RFC822.TEXT.
func (it FetchItem) SetsSeen() bool {
	switch it.Kind {
	case FetchBodySection, FetchBinary:
		return !it.Peek
	case FetchRFC822, FetchRFC822Text:
		return true
	}
	return false
}

// ResponseName is the item name the FETCH response uses for it
// (RFC 3501 §7.4.2): ".PEEK" is dropped and a partial becomes its origin,
// e.g. BODY.PEEK[HEADER]<0.1024> -> BODY[HEADER]<0>. BINARY responses have
// no origin even for a partial request (RFC 3516 §4.2 and RFC 9051 §9
// grammar: "BINARY" section-binary SP (nstring / literal8); RFC 9051
// erratum 7246): BINARY.PEEK[1]<0.100> -> BINARY[1].
func (it FetchItem) ResponseName() string {
	var name string
	switch it.Kind {
	case FetchFlags:
		return "FLAGS"
	case FetchInternalDate:
		return "INTERNALDATE"
	case FetchRFC822:
		return "RFC822"
	case FetchRFC822Header:
		return "RFC822.HEADER"
	case FetchRFC822Size:
		return "RFC822.SIZE"
	case FetchRFC822Text:
		return "RFC822.TEXT"
	case FetchEnvelope:
		return "ENVELOPE"
	case FetchBody:
		return "BODY"
	case FetchBodyStructure:
		return "BODYSTRUCTURE"
	case FetchUID:
		return "UID"
	case FetchModSeq:
		return "MODSEQ"
	case FetchBodySection:
		name = "BODY[" + it.Section.String() + "]"
	case FetchBinary:
		return "BINARY[" + it.Section.String() + "]"
	case FetchBinarySize:
		return "BINARY.SIZE[" + it.Section.String() + "]"
	}
	if it.Partial != nil {
		name += "<" + strconv.FormatUint(it.Partial.Offset, 10) + ">"
	}
	return name
}

// FetchArgs: FETCH / UID FETCH (RFC 3501 §6.4.5, RFC 4466 §2.4 modifiers,
// RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED).
//
// Macros are expanded (ALL, FAST, FULL). Items are in request order,
// duplicates kept. For UID FETCH a UID item is put first if the client did
// not ask for it (RFC 3501 §6.4.8); with CHANGEDSINCE a MODSEQ item is
// added if missing (RFC 7162 §3.1.4.1).
type FetchArgs struct {
	Set             NumSet
	Items           []FetchItem
	ChangedSince    uint64 // 0 if absent
	HasChangedSince bool
	Vanished        bool // UID FETCH ... (CHANGEDSINCE n VANISHED)
}

// Has reports whether an item of kind k was requested.
func (a *FetchArgs) Has(k FetchKind) bool {
	for _, it := range a.Items {
		if it.Kind == k {
			return true
		}
	}
	return false
}

// simpleFetchItems are the items that are a bare keyword.
var simpleFetchItems = map[string]FetchKind{
	"FLAGS": FetchFlags, "INTERNALDATE": FetchInternalDate, "RFC822": FetchRFC822,
	"RFC822.HEADER": FetchRFC822Header, "RFC822.SIZE": FetchRFC822Size,
	"RFC822.TEXT": FetchRFC822Text, "ENVELOPE": FetchEnvelope,
	"BODYSTRUCTURE": FetchBodyStructure, "UID": FetchUID, "MODSEQ": FetchModSeq,
}

// fetch macros (RFC 3501 §6.4.5).
var fetchMacros = map[string][]FetchKind{
	"ALL":  {FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope},
	"FAST": {FetchFlags, FetchInternalDate, FetchRFC822Size},
	"FULL": {FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope, FetchBody},
}

// parseFetch: "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
// fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers].
func parseFetch(r *Reader, cmd *Command) (any, error) {
	a := &FetchArgs{}
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
			it, err := r.fetchAtt()
			if err == nil {
				a.Items = append(a.Items, it)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	} else {
		save := r.pos
		w, _ := r.word()
		if kinds, ok := fetchMacros[w]; ok {
			for _, k := range kinds {
				a.Items = append(a.Items, FetchItem{Kind: k})
			}
		} else {
			r.pos = save
			it, err := r.fetchAtt()
			if err != nil {
				return nil, err
			}
			a.Items = append(a.Items, it)
		}
	}
	if r.peek() == ' ' {
		r.pos++
		err = r.list(false, func() error {
			w, err := r.word()
			if err != nil {
				return err
			}
			switch w {
			case "CHANGEDSINCE":
				if err := r.sp(); err != nil {
					return err
				}
				if a.ChangedSince, err = r.number64(); err != nil {
					return err
				}
				a.HasChangedSince = true
			case "VANISHED":
				a.Vanished = true
			default:
				return errorf("unknown FETCH modifier %s", w)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		// RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE.
		if a.Vanished && (!cmd.UID || !a.HasChangedSince) {
			return nil, errorf("VANISHED requires UID FETCH with CHANGEDSINCE")
		}
	}
	if a.HasChangedSince && !a.Has(FetchModSeq) {
		a.Items = append(a.Items, FetchItem{Kind: FetchModSeq})
	}
	if cmd.UID && !a.Has(FetchUID) {
		a.Items = append([]FetchItem{{Kind: FetchUID}}, a.Items...)
	}
	return a, nil
}

// fetchAtt parses one "fetch-att" (RFC 3501 §9, RFC 3516 §4.2,
// RFC 7162 §7).
func (r *Reader) fetchAtt() (FetchItem, error) {
	w, err := r.word()
	if err != nil {
		return FetchItem{}, r.errExpected("fetch item")
	}
	if k, ok := simpleFetchItems[w]; ok {
		return FetchItem{Kind: k}, nil
	}
	var it FetchItem
	switch w {
	case "BODY":
		if r.peek() != '[' {
			return FetchItem{Kind: FetchBody}, nil
		}
		it.Kind = FetchBodySection
	case "BODY.PEEK":
		it.Kind, it.Peek = FetchBodySection, true
	case "BINARY":
		it.Kind = FetchBinary
	case "BINARY.PEEK":
		it.Kind, it.Peek = FetchBinary, true
	case "BINARY.SIZE":
		it.Kind = FetchBinarySize
	default:
		return FetchItem{}, errorf("unknown fetch item %s", snippet([]byte(w)))
	}
	if err := r.expect('['); err != nil {
		return FetchItem{}, err
	}
	if it.Kind == FetchBodySection {
		it.Section, err = r.section()
	} else {
		it.Section.Parts, err = r.sectionPart() // section-binary
	}
	if err != nil {
		return FetchItem{}, err
	}
	if err := r.expect(']'); err != nil {
		return FetchItem{}, err
	}
	if r.peek() == '<' && it.Kind != FetchBinarySize {
		r.pos++
		p := &Partial{}
		if p.Offset, err = r.number64(); err != nil {
			return FetchItem{}, err
		}
		if err := r.expect('.'); err != nil {
			return FetchItem{}, err
		}
		if p.Count, err = r.number64(); err != nil {
			return FetchItem{}, err
		}
		if p.Count == 0 {
			return FetchItem{}, errorf("partial length must not be 0")
		}
		if err := r.expect('>'); err != nil {
			return FetchItem{}, err
		}
		it.Partial = p
	}
	return it, nil
}

// sectionPart parses "section-part" = nz-number *("." nz-number), possibly
// empty; it stops before a "." that is not followed by a digit.
func (r *Reader) sectionPart() ([]uint32, error) {
	var parts []uint32
	for {
		c := r.peek()
		if c < '0' || c > '9' {
			return parts, nil
		}
		n, err := r.nzNumber()
		if err != nil {
			return nil, err
		}
		if len(parts) >= r.lim.MaxDepth {
			return nil, errorf("section part too deep")
		}
		parts = append(parts, n)
		if r.peek() != '.' || r.pos+1 >= len(r.line) || r.line[r.pos+1] < '0' || r.line[r.pos+1] > '9' {
			return parts, nil
		}
		r.pos++
	}
}

// section parses the inside of "[" [section-spec] "]" (RFC 3501 §9).
func (r *Reader) section() (Section, error) {
	var s Section
	var err error
	if s.Parts, err = r.sectionPart(); err != nil {
		return s, err
	}
	if r.peek() == ']' {
		return s, nil
	}
	if len(s.Parts) > 0 {
		if err := r.expect('.'); err != nil {
			return s, err
		}
	}
	w, err := r.word()
	if err != nil {
		return s, r.errExpected("section")
	}
	switch w {
	case SpecHeader, SpecText:
		s.Specifier = w
	case SpecMIME:
		if len(s.Parts) == 0 { // section-text: MIME only after a part
			return s, errorf("MIME needs a part number")
		}
		s.Specifier = w
	case SpecHeaderFields, SpecHeaderFieldsNot:
		s.Specifier = w
		if err := r.sp(); err != nil {
			return s, err
		}
		s.Fields = []string{}
		err := r.list(false, func() error {
			f, err := r.astring()
			if err == nil {
				s.Fields = append(s.Fields, f)
			}
			return err
		})
		if err != nil {
			return s, err
		}
	default:
		return s, errorf("unknown section %s", snippet([]byte(w)))
	}
	return s, nil
}
