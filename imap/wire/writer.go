package wire

import (
	"bufio"
	"encoding/base64"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ---- string encoding (RFC 3501 §4.3, §9; RFC 6855 §3) ----

// CanQuote reports whether s can be sent as a quoted string: no CR, LF or
// NUL, and no 8-bit bytes unless utf8 (UTF8=ACCEPT enabled, RFC 6855 §3)
// and s is valid UTF-8. '"' and '\' are escaped, so they are fine.
func CanQuote(s string, utf8ok bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n' || c == 0:
			return false
		case c >= 0x80:
			if !utf8ok {
				return false
			}
		}
	}
	return !utf8ok || utf8.ValidString(s)
}

// QuoteString returns the wire form of s as an IMAP string: quoted with
// '"' and '\' escaped if CanQuote(s, utf8), otherwise a literal
// "{n}\r\n" followed by s (as a server sends it: no "+").
func QuoteString(s string, utf8ok bool) string {
	if !CanQuote(s, utf8ok) {
		return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isAtom reports whether s can be sent as an atom in an astring position:
// non-empty, all ASTRING-CHAR, and not "NIL" (which a client could take
// for nil where an nstring is possible).
func isAtom(s string) bool {
	if s == "" || strings.EqualFold(s, "NIL") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !astringChar[s[i]] {
			return false
		}
	}
	return true
}

// FormatAString returns the wire form of s as an astring: an atom when
// possible, else QuoteString.
func FormatAString(s string, utf8ok bool) string {
	if isAtom(s) {
		return s
	}
	return QuoteString(s, utf8ok)
}

// ---- Writer ----

// Status is the condition of a status response (RFC 3501 §7.1).
type Status string

const (
	OK      Status = "OK"
	NO      Status = "NO"
	BAD     Status = "BAD"
	PREAUTH Status = "PREAUTH"
	BYE     Status = "BYE"
)

// Code is a response code: the text between "[" and "]" of a status
// response (RFC 3501 §7.1, RFC 5530, and the extensions). Use the
// constants and constructors below; "" means no code.
type Code string

// Response codes without arguments.
const (
	CodeAlert                Code = "ALERT"
	CodeParse                Code = "PARSE"
	CodeReadOnly             Code = "READ-ONLY"
	CodeReadWrite            Code = "READ-WRITE"
	CodeTryCreate            Code = "TRYCREATE"
	CodeUIDNotSticky         Code = "UIDNOTSTICKY"  // RFC 4315
	CodeNoModSeq             Code = "NOMODSEQ"      // RFC 7162
	CodeClosed               Code = "CLOSED"        // RFC 7162
	CodeTooBig               Code = "TOOBIG"        // RFC 7888, RFC 4469
	CodeLimit                Code = "LIMIT"         // RFC 5530 ...
	CodeOverQuota            Code = "OVERQUOTA"     // RFC 5530, RFC 9208
	CodeNonExistent          Code = "NONEXISTENT"   // RFC 5530
	CodeAlreadyExists        Code = "ALREADYEXISTS" // RFC 5530
	CodeCannot               Code = "CANNOT"        // RFC 5530
	CodeInUse                Code = "INUSE"         // RFC 5530
	CodeServerBug            Code = "SERVERBUG"     // RFC 5530
	CodeClientBug            Code = "CLIENTBUG"     // RFC 5530
	CodeUnavailable          Code = "UNAVAILABLE"   // RFC 5530
	CodeAuthenticationFailed Code = "AUTHENTICATIONFAILED"
	CodeAuthorizationFailed  Code = "AUTHORIZATIONFAILED"
	CodeExpired              Code = "EXPIRED"
	CodePrivacyRequired      Code = "PRIVACYREQUIRED"
	CodeContactAdmin         Code = "CONTACTADMIN"
	CodeNoPerm               Code = "NOPERM"
	CodeExpungeIssued        Code = "EXPUNGEISSUED"
	CodeCorruption           Code = "CORRUPTION"
	CodeHasChildren          Code = "HASCHILDREN"       // RFC 9051
	CodeUseAttr              Code = "USEATTR"           // RFC 6154
	CodeUnknownCTE           Code = "UNKNOWN-CTE"       // RFC 3516
	CodeCompressionActive    Code = "COMPRESSIONACTIVE" // RFC 4978
)

func u32(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
func u64(n uint64) string { return strconv.FormatUint(n, 10) }

// CodeUIDNext is [UIDNEXT n] (RFC 3501 §7.1).
func CodeUIDNext(n uint32) Code { return Code("UIDNEXT " + u32(n)) }

// CodeUIDValidity is [UIDVALIDITY n] (RFC 3501 §7.1).
func CodeUIDValidity(n uint32) Code { return Code("UIDVALIDITY " + u32(n)) }

// CodeUnseen is [UNSEEN n] (RFC 3501 §7.1).
func CodeUnseen(n uint32) Code { return Code("UNSEEN " + u32(n)) }

// CodeHighestModSeq is [HIGHESTMODSEQ n] (RFC 7162 §3.1.2.1).
func CodeHighestModSeq(n uint64) Code { return Code("HIGHESTMODSEQ " + u64(n)) }

// CodeAppendUID is [APPENDUID uidvalidity uid] (RFC 4315 §3).
func CodeAppendUID(uidValidity, uid uint32) Code {
	return Code("APPENDUID " + u32(uidValidity) + " " + u32(uid))
}

// CodeCopyUID is [COPYUID uidvalidity source-uids dest-uids] (RFC 4315 §3).
func CodeCopyUID(uidValidity uint32, src, dst NumSet) Code {
	return Code("COPYUID " + u32(uidValidity) + " " + src.String() + " " + dst.String())
}

// CodeModified is [MODIFIED set] (RFC 7162 §3.1.3).
func CodeModified(set NumSet) Code { return Code("MODIFIED " + set.String()) }

// CodeCapability is [CAPABILITY cap...] (RFC 3501 §7.1).
func CodeCapability(caps ...string) Code { return Code("CAPABILITY " + strings.Join(caps, " ")) }

// CodePermanentFlags is [PERMANENTFLAGS (flag...)] (RFC 3501 §7.1);
// include `\*` to allow new keywords.
func CodePermanentFlags(flags ...string) Code {
	return Code("PERMANENTFLAGS (" + strings.Join(flags, " ") + ")")
}

// CodeBadCharset is [BADCHARSET (charset...)] (RFC 3501 §7.1).
func CodeBadCharset(charsets ...string) Code {
	if len(charsets) == 0 {
		return "BADCHARSET"
	}
	parts := make([]string, len(charsets))
	for i, c := range charsets {
		parts[i] = FormatAString(c, false)
	}
	return Code("BADCHARSET (" + strings.Join(parts, " ") + ")")
}

// Writer encodes server responses. It keeps the first write error: every
// later call does nothing, and Err and Flush return it.
//
// Invariant: a response is written by one call of a response method
// (StatusResponse, Capability, ...) or by a StartFetch ... End sequence;
// between such units the output is at a line boundary.
type Writer struct {
	bw  *bufio.Writer
	err error
	// UTF8 is set once the client enabled UTF8=ACCEPT (RFC 6855 §3):
	// strings with (valid) 8-bit UTF-8 may then be quoted; otherwise they
	// are sent as literals.
	UTF8 bool
	// num is Number's scratch space: a local array would escape to the
	// heap through bufio.Writer.Write, one allocation per number.
	num [20]byte
}

// NewWriter returns a Writer over w (used directly if a *bufio.Writer).
func NewWriter(w io.Writer) *Writer {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 16<<10)
	}
	return &Writer{bw: bw}
}

// Err returns the first write error.
func (w *Writer) Err() error { return w.err }

// Flush writes buffered output to the connection.
// SetBuffer makes the Writer write into bw from now on (a session that
// lends its buffer back to a pool while it waits for input). bw must be
// empty; the sticky error and UTF8 stay.
func (w *Writer) SetBuffer(bw *bufio.Writer) { w.bw = bw }

func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}

func (w *Writer) raw(s string) {
	if w.err == nil {
		_, w.err = w.bw.WriteString(s)
	}
}

func (w *Writer) byte1(c byte) {
	if w.err == nil {
		w.err = w.bw.WriteByte(c)
	}
}

// Raw writes s unchanged; the caller vouches for its syntax.
func (w *Writer) Raw(s string) { w.raw(s) }

// SP writes a space.
func (w *Writer) SP() { w.byte1(' ') }

// CRLF ends a response line.
func (w *Writer) CRLF() { w.raw("\r\n") }

// Number writes a decimal number.
func (w *Writer) Number(n uint64) {
	if w.err == nil {
		_, w.err = w.bw.Write(strconv.AppendUint(w.num[:0], n, 10))
	}
}

// NIL writes NIL.
func (w *Writer) NIL() { w.raw("NIL") }

// String writes s as a quoted string or, if it cannot be quoted, a literal.
func (w *Writer) String(s string) {
	if CanQuote(s, w.UTF8) {
		w.raw(QuoteString(s, w.UTF8))
		return
	}
	w.raw("{" + strconv.Itoa(len(s)) + "}\r\n")
	w.raw(s)
}

// AString writes s as an atom if it can, else as String does.
func (w *Writer) AString(s string) {
	if isAtom(s) {
		w.raw(s)
		return
	}
	w.String(s)
}

// NString writes s, or NIL if s is "" (the convention of ENVELOPE and
// BODYSTRUCTURE fields, where an absent value is NIL).
func (w *Writer) NString(s string) {
	if s == "" {
		w.NIL()
		return
	}
	w.String(s)
}

// Literal writes a literal of exactly size bytes copied from r, streamed
// (RFC 3501 §4.3); binary selects literal8 "~{n}" (RFC 3516 §4.3). If r
// yields fewer than size bytes the response is broken: the error is
// recorded and the session must close the connection.
func (w *Writer) Literal(size int64, r io.Reader, binary bool) error {
	if binary {
		w.byte1('~')
	}
	w.raw("{" + strconv.FormatInt(size, 10) + "}\r\n")
	if w.err != nil {
		return w.err
	}
	n, err := io.CopyN(w.bw, r, size)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		_ = n
		w.err = err
	}
	return w.err
}

// List writes "(" elements ")" with fn writing the elements; the caller
// writes separators with SP.
func (w *Writer) List(fn func()) {
	w.byte1('(')
	fn()
	w.byte1(')')
}

// Flags writes a flag list "(\Seen $Forwarded)".
func (w *Writer) Flags(flags []string) {
	w.byte1('(')
	for i, f := range flags {
		if i > 0 {
			w.SP()
		}
		w.raw(f)
	}
	w.byte1(')')
}

// cleanText makes s usable as resp-text "text" (RFC 3501 §9: 1*TEXT-CHAR;
// RFC 9051 allows UTF-8): CR and LF become spaces, NUL and, unless utf8,
// 8-bit bytes become '?', a leading "[" (which would read as a response
// code) becomes "(", and an empty text becomes "completed".
func cleanText(s string, utf8ok bool) string {
	if s == "" {
		return "completed"
	}
	if !utf8ok || !utf8.ValidString(s) {
		utf8ok = false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '\r' || c == '\n':
			b[i] = ' '
		case c == 0 || c >= 0x80 && !utf8ok:
			b[i] = '?'
		}
	}
	if b[0] == '[' {
		b[0] = '('
	}
	return string(b)
}

// StatusResponse writes a status response (RFC 3501 §7.1):
// "<tag> <status> [<code>] <text>\r\n", or "* ..." if tag is "".
func (w *Writer) StatusResponse(tag string, st Status, code Code, text string) {
	if tag == "" {
		tag = "*"
	}
	w.raw(tag)
	w.SP()
	w.raw(string(st))
	w.SP()
	if code != "" {
		w.byte1('[')
		w.raw(strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ']' {
				return ' '
			}
			return r
		}, string(code)))
		w.raw("] ")
	}
	w.raw(cleanText(text, w.UTF8))
	w.CRLF()
}

// Continue writes a continuation request "+ text\r\n" (RFC 3501 §7.5).
func (w *Writer) Continue(text string) {
	w.raw("+ ")
	w.raw(cleanText(text, w.UTF8))
	w.CRLF()
}

// ContinueBase64 writes a SASL challenge "+ base64\r\n" (RFC 3501 §6.2.2);
// an empty challenge is "+ \r\n".
func (w *Writer) ContinueBase64(data []byte) {
	w.raw("+ ")
	w.raw(base64.StdEncoding.EncodeToString(data))
	w.CRLF()
}

// untagged starts "* " + name.
func (w *Writer) untagged(name string) {
	w.raw("* ")
	w.raw(name)
}

// Capability writes "* CAPABILITY cap...".
func (w *Writer) Capability(caps ...string) {
	w.untagged("CAPABILITY")
	for _, c := range caps {
		w.SP()
		w.raw(c)
	}
	w.CRLF()
}

// Enabled writes "* ENABLED cap..." (RFC 5161 §3.2).
func (w *Writer) Enabled(caps ...string) {
	w.untagged("ENABLED")
	for _, c := range caps {
		w.SP()
		w.raw(c)
	}
	w.CRLF()
}

// FlagsResponse writes "* FLAGS (...)" (RFC 3501 §7.2.6).
func (w *Writer) FlagsResponse(flags []string) {
	w.untagged("FLAGS ")
	w.Flags(flags)
	w.CRLF()
}

// Exists writes "* n EXISTS" (RFC 3501 §7.3.1).
func (w *Writer) Exists(n uint32) { w.numResponse(n, "EXISTS") }

// Recent writes "* n RECENT" (RFC 3501 §7.3.2).
func (w *Writer) Recent(n uint32) { w.numResponse(n, "RECENT") }

// Expunge writes "* seq EXPUNGE" (RFC 3501 §7.4.1).
func (w *Writer) Expunge(seq uint32) { w.numResponse(seq, "EXPUNGE") }

func (w *Writer) numResponse(n uint32, name string) {
	w.raw("* ")
	w.Number(uint64(n))
	w.SP()
	w.raw(name)
	w.CRLF()
}

// Vanished writes "* VANISHED [(EARLIER) ]uids" (RFC 7162 §3.2.10).
func (w *Writer) Vanished(earlier bool, uids NumSet) {
	w.untagged("VANISHED ")
	if earlier {
		w.raw("(EARLIER) ")
	}
	w.raw(uids.String())
	w.CRLF()
}

// ListData is one LIST/LSUB response (RFC 3501 §7.2.2, RFC 5258 §3.4,
// RFC 9051 §7.3.1).
type ListData struct {
	Attrs     []string // \HasChildren \Noselect \Subscribed \Sent ...
	Delim     rune     // hierarchy delimiter, 0 for NIL
	Mailbox   string   // as it goes on the wire (mUTF-7 already applied, or UTF-8)
	ChildInfo []string // CHILDINFO extended data, e.g. ["SUBSCRIBED"] (RFC 5258 §4)
	OldName   string   // OLDNAME extended data (RFC 9051 §6.3.9), "" if none
}

// List writes "* LIST (attrs) delim mailbox [extended]" (lsub: LSUB).
func (w *Writer) ListResponse(lsub bool, d ListData) {
	if lsub {
		w.untagged("LSUB ")
	} else {
		w.untagged("LIST ")
	}
	w.Flags(d.Attrs)
	w.SP()
	switch {
	case d.Delim == 0:
		w.NIL()
	case d.Delim == '"' || d.Delim == '\\':
		w.raw(`"\` + string(d.Delim) + `"`)
	default:
		w.String(string(d.Delim))
	}
	w.SP()
	w.mailbox(d.Mailbox)
	if len(d.ChildInfo) > 0 || d.OldName != "" {
		w.raw(" (")
		sep := false
		if len(d.ChildInfo) > 0 {
			w.raw(`"CHILDINFO" (`)
			for i, c := range d.ChildInfo {
				if i > 0 {
					w.SP()
				}
				w.String(c)
			}
			w.byte1(')')
			sep = true
		}
		if d.OldName != "" {
			if sep {
				w.SP()
			}
			w.raw(`"OLDNAME" (`)
			w.mailbox(d.OldName)
			w.byte1(')')
		}
		w.byte1(')')
	}
	w.CRLF()
}

// mailbox writes a mailbox name: "INBOX" / astring.
func (w *Writer) mailbox(name string) { w.AString(name) }

// StatusValue is one item of a STATUS response.
type StatusValue struct {
	Item  StatusItem
	Value uint64
}

// StatusData writes "* STATUS mailbox (item value ...)" (RFC 3501 §7.2.4).
func (w *Writer) StatusData(mailbox string, values []StatusValue) {
	w.untagged("STATUS ")
	w.mailbox(mailbox)
	w.raw(" (")
	for i, v := range values {
		if i > 0 {
			w.SP()
		}
		w.raw(string(v.Item))
		w.SP()
		w.Number(v.Value)
	}
	w.raw(")")
	w.CRLF()
}

// Search writes "* SEARCH n..." with, if modSeq > 0, " (MODSEQ m)"
// (RFC 3501 §7.2.5, RFC 7162 §3.1.5).
func (w *Writer) Search(nums []uint32, modSeq uint64) {
	w.untagged("SEARCH")
	for _, n := range nums {
		w.SP()
		w.Number(uint64(n))
	}
	if modSeq > 0 {
		w.raw(" (MODSEQ ")
		w.Number(modSeq)
		w.byte1(')')
	}
	w.CRLF()
}

// ESearchData is an ESEARCH response (RFC 4731 §3.1, RFC 7162 §3.1.5).
// Only the requested items are set; Count is written when HasCount.
type ESearchData struct {
	Tag      string // the command's tag (search-correlator)
	UID      bool
	Min, Max uint32 // written when non-zero
	Count    uint32
	HasCount bool
	All      NumSet // written when not empty
	ModSeq   uint64 // written when non-zero
}

// ESearch writes "* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n]
// [ALL set] [MODSEQ n]".
func (w *Writer) ESearch(d ESearchData) {
	w.untagged("ESEARCH")
	if d.Tag != "" {
		w.raw(" (TAG ")
		w.String(d.Tag)
		w.byte1(')')
	}
	if d.UID {
		w.raw(" UID")
	}
	if d.Min > 0 {
		w.raw(" MIN ")
		w.Number(uint64(d.Min))
	}
	if d.Max > 0 {
		w.raw(" MAX ")
		w.Number(uint64(d.Max))
	}
	if d.HasCount {
		w.raw(" COUNT ")
		w.Number(uint64(d.Count))
	}
	if !d.All.IsEmpty() {
		w.raw(" ALL ")
		w.raw(d.All.String())
	}
	if d.ModSeq > 0 {
		w.raw(" MODSEQ ")
		w.Number(d.ModSeq)
	}
	w.CRLF()
}

// ID writes "* ID (...)" or "* ID NIL" when params is nil (RFC 2971 §3.2).
func (w *Writer) ID(params []IDParam) {
	w.untagged("ID ")
	if params == nil {
		w.NIL()
		w.CRLF()
		return
	}
	w.byte1('(')
	for i, p := range params {
		if i > 0 {
			w.SP()
		}
		w.String(p.Key)
		w.SP()
		if p.Nil {
			w.NIL()
		} else {
			w.String(p.Value)
		}
	}
	w.byte1(')')
	w.CRLF()
}

// NamespaceDesc is one namespace (RFC 2342 §5): a prefix and its delimiter
// (0 for NIL).
type NamespaceDesc struct {
	Prefix string
	Delim  rune
}

// Namespace writes "* NAMESPACE personal other shared" (RFC 2342 §5); a
// nil or empty slice is written NIL.
func (w *Writer) Namespace(personal, other, shared []NamespaceDesc) {
	w.untagged("NAMESPACE")
	for _, ns := range [][]NamespaceDesc{personal, other, shared} {
		w.SP()
		if len(ns) == 0 {
			w.NIL()
			continue
		}
		w.byte1('(')
		for _, d := range ns {
			w.byte1('(')
			w.String(d.Prefix)
			w.SP()
			if d.Delim == 0 {
				w.NIL()
			} else {
				w.String(string(d.Delim))
			}
			w.byte1(')')
		}
		w.byte1(')')
	}
	w.CRLF()
}

// QuotaResource is one resource of a QUOTA response (RFC 9208 §5.1).
type QuotaResource struct {
	Name         string // STORAGE (in KiB), MESSAGE, ...
	Usage, Limit uint64
}

// Quota writes "* QUOTA root (name usage limit ...)" (RFC 9208 §5.1).
func (w *Writer) Quota(root string, res []QuotaResource) {
	w.untagged("QUOTA ")
	w.AString(root)
	w.raw(" (")
	for i, q := range res {
		if i > 0 {
			w.SP()
		}
		w.raw(q.Name)
		w.SP()
		w.Number(q.Usage)
		w.SP()
		w.Number(q.Limit)
	}
	w.byte1(')')
	w.CRLF()
}

// QuotaRoot writes "* QUOTAROOT mailbox root..." (RFC 9208 §5.2).
func (w *Writer) QuotaRoot(mailbox string, roots ...string) {
	w.untagged("QUOTAROOT ")
	w.mailbox(mailbox)
	for _, r := range roots {
		w.SP()
		w.AString(r)
	}
	w.CRLF()
}

// ---- FETCH (RFC 3501 §7.4.2) ----

// FetchWriter writes the items of one FETCH response, in call order.
type FetchWriter struct {
	w *Writer
	n int
}

// StartFetch begins "* seq FETCH (". Items follow; End closes it.
func (w *Writer) StartFetch(seq uint32) *FetchWriter {
	w.raw("* ")
	w.Number(uint64(seq))
	w.raw(" FETCH (")
	return &FetchWriter{w: w}
}

func (f *FetchWriter) item(name string) {
	if f.n > 0 {
		f.w.SP()
	}
	f.n++
	f.w.raw(name)
	f.w.SP()
}

// End closes the response: ")\r\n".
func (f *FetchWriter) End() {
	f.w.byte1(')')
	f.w.CRLF()
}

// UID writes "UID n".
func (f *FetchWriter) UID(uid uint32) { f.item("UID"); f.w.Number(uint64(uid)) }

// Flags writes "FLAGS (...)".
func (f *FetchWriter) Flags(flags []string) { f.item("FLAGS"); f.w.Flags(flags) }

// InternalDate writes `INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz"`.
func (f *FetchWriter) InternalDate(t time.Time) {
	f.item("INTERNALDATE")
	f.w.raw(`"` + FormatDateTime(t) + `"`)
}

// RFC822Size writes "RFC822.SIZE n".
func (f *FetchWriter) RFC822Size(n int64) { f.item("RFC822.SIZE"); f.w.Number(uint64(n)) }

// ModSeq writes "MODSEQ (n)" (RFC 7162 §3.1.4.1).
func (f *FetchWriter) ModSeq(n uint64) {
	f.item("MODSEQ")
	f.w.byte1('(')
	f.w.Number(n)
	f.w.byte1(')')
}

// Envelope writes "ENVELOPE (...)".
func (f *FetchWriter) Envelope(e *Envelope) { f.item("ENVELOPE"); f.w.envelope(e) }

// BodyStructure writes "BODYSTRUCTURE (...)" if extended, else the
// non-extensible "BODY (...)".
func (f *FetchWriter) BodyStructure(b *BodyStructure, extended bool) {
	if extended {
		f.item("BODYSTRUCTURE")
	} else {
		f.item("BODY")
	}
	f.w.bodyStructure(b, extended)
}

// Section writes the item's response name (it.ResponseName()) and the
// section's contents as a literal of size bytes streamed from r; BINARY
// items are written as literal8 (RFC 3516 §4.3). See Writer.Literal for a
// short r.
func (f *FetchWriter) Section(it FetchItem, size int64, r io.Reader) error {
	f.item(it.ResponseName())
	return f.w.Literal(size, r, it.Kind == FetchBinary)
}

// SectionNIL writes the item with NIL contents (a section that does not
// exist, RFC 3501 §6.4.5).
func (f *FetchWriter) SectionNIL(it FetchItem) { f.item(it.ResponseName()); f.w.NIL() }

// BinarySize writes "BINARY.SIZE[part] n" (RFC 3516 §4.2).
func (f *FetchWriter) BinarySize(it FetchItem, n int64) {
	f.item(it.ResponseName())
	f.w.Number(uint64(n))
}
