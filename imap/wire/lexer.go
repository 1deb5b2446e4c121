package wire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Default limits, used for every zero field of Limits.
const (
	DefaultMaxLine     = 64 << 10  // 64 KiB per command line, literals excluded
	DefaultMaxLiteral  = 64 << 20  // 64 MiB: APPEND message literal (advertise as APPENDLIMIT)
	DefaultMaxBuffered = 1 << 20   // 1 MiB: continuation lines + buffered literals of one command
	DefaultMaxDepth    = 100       // nesting of parenthesised lists and search keys
	DefaultMaxDrain    = 128 << 20 // non-synchronising literal bytes discarded to stay in sync

	// LiteralMinusMax is the largest non-synchronising literal a LITERAL-
	// server accepts (RFC 7888 §5).
	LiteralMinusMax = 4096
)

// Limits bounds what a Reader accepts from a client. Zero fields take the
// defaults above.
type Limits struct {
	// MaxLine is the longest command line, CRLF and literal contents
	// excluded (each line of a command split by literals counts alone).
	MaxLine int
	// MaxLiteral is the largest APPEND message literal (RFC 7889
	// APPENDLIMIT). It applies to synchronising and non-synchronising
	// literals alike.
	MaxLiteral int64
	// MaxBuffered bounds the memory one command may occupy beyond its first
	// line: every further line and every literal other than APPEND's message
	// (mailbox names, passwords, search strings ...) count against it.
	MaxBuffered int64
	// MaxDepth bounds nesting: parenthesised lists, search-key groups and
	// chains of NOT/OR.
	MaxDepth int
	// MaxDrain is how many bytes of a rejected non-synchronising literal the
	// Reader reads and throws away to stay in sync with the client
	// (RFC 7888 §4). A larger one makes the error Fatal.
	MaxDrain int64
	// LiteralMinus makes the Reader enforce RFC 7888 §5 (LITERAL-):
	// non-synchronising literals over 4096 octets are rejected with
	// KindTooBig. Leave false when advertising LITERAL+.
	LiteralMinus bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = DefaultMaxLiteral
	}
	if l.MaxBuffered <= 0 {
		l.MaxBuffered = DefaultMaxBuffered
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxDrain <= 0 {
		l.MaxDrain = DefaultMaxDrain
	}
	return l
}

// ContinueFunc is called by the Reader before it reads the contents of a
// synchronising literal; it must write (and flush) a continuation request,
// typically "+ Ready\r\n" (RFC 3501 §7.5). It is never called for a
// non-synchronising literal {n+} (RFC 7888). An error from it is returned
// unchanged by the Reader and ends the connection.
type ContinueFunc func() error

// Reader parses IMAP commands from a client connection.
//
// A Reader is not safe for concurrent use. Invariant between calls: the
// underlying bufio.Reader is positioned at the start of a command line,
// except while an APPEND *Literal returned by the last ReadCommand is
// being consumed.
type Reader struct {
	br   *bufio.Reader
	lim  Limits
	cont ContinueFunc

	buf  []byte // storage for line
	line []byte // current line (segment of a command) without CRLF
	pos  int    // parse position in line

	longTag string   // tag at the start of the last overlong line, "" if none
	used    int64    // bytes of the current command buffered beyond its first line
	depth   int      // current nesting depth
	pending *Literal // APPEND message literal handed to the session
}

// NewReader returns a Reader over r. If r is a *bufio.Reader it is used
// directly (so that a session can share it); otherwise one is allocated.
// cont may be nil only if the session never accepts synchronising literals,
// in which case the Reader rejects them.
func NewReader(r io.Reader, lim Limits, cont ContinueFunc) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 16<<10)
	}
	return &Reader{br: br, lim: lim.withDefaults(), cont: cont}
}

// Limits returns the effective limits (defaults filled in).
func (r *Reader) Limits() Limits { return r.lim }

// Buffered returns the number of bytes already read from the connection but
// not yet parsed. After STARTTLS or COMPRESS a session must check that it is
// zero: bytes pipelined behind those commands must not be executed
// (command injection, RFC 3501 §6.2.1 / RFC 4978 §3).
func (r *Reader) Buffered() int { return r.br.Buffered() }

// errTooLong is returned by readLine when a line exceeded MaxLine; the line
// has then been discarded up to its LF and r.line holds its last bytes.
var errTooLong = errors.New("line too long")

// tailKeep is how many bytes of a discarded overlong line are kept to
// recognise a trailing literal marker: "~{" + 19 digits + "+}".
const tailKeep = 32

// readLine reads the next line into r.line (CR LF stripped; a bare LF is
// accepted as well). Lines over MaxLine are discarded up to their LF and
// errTooLong is returned with r.line set to the line's last bytes.
func (r *Reader) readLine() error {
	r.buf = r.buf[:0]
	r.pos = 0
	r.line = nil
	r.longTag = ""
	max := r.lim.MaxLine + 2 // CRLF
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf)+len(chunk) > max {
			r.longTag = leadingTag(append(r.buf, chunk...))
			return r.discardLongLine(chunk, err)
		}
		r.buf = append(r.buf, chunk...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(r.buf) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	l := r.buf[:len(r.buf)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	if len(l) > r.lim.MaxLine {
		r.longTag = leadingTag(l)
		r.line = keepTail(nil, l)
		return errTooLong
	}
	r.line = l
	return nil
}

// maxTagKept bounds the tag recovered from an overlong line.
const maxTagKept = 64

// leadingTag returns the tag that starts line (tag chars up to a space),
// or "" if the line does not start with one: the session can then answer
// an overlong command with its tag, so that the client's command does not
// wait for an answer forever.
func leadingTag(line []byte) string {
	for i, c := range line {
		if c == ' ' {
			if i == 0 {
				return ""
			}
			return string(line[:i])
		}
		if !tagChar[c] || i >= maxTagKept {
			return ""
		}
	}
	return ""
}

func keepTail(dst, b []byte) []byte {
	if len(b) > tailKeep {
		b = b[len(b)-tailKeep:]
	}
	return append(dst[:0], b...)
}

// discardLongLine consumes the rest of an overlong line, keeping its tail.
func (r *Reader) discardLongLine(chunk []byte, err error) error {
	tail := keepTail(nil, append(keepTail(nil, r.buf), chunk...))
	for err == bufio.ErrBufferFull {
		chunk, err = r.br.ReadSlice('\n')
		tail = keepTail(tail, append(tail, chunk...))
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	tail = bytes.TrimSuffix(tail[:len(tail)-1], []byte{'\r'})
	r.buf = append(r.buf[:0], tail...)
	r.line = r.buf
	return errTooLong
}

// literalMarker reports whether line ends with a literal announcement
// "{n}", "{n+}", "~{n}" or "~{n+}" (RFC 3501 §4.3, RFC 7888 §3,
// RFC 3516 §4.1). ok is false if there is none; valid is false if the
// marker has the shape of one but its number does not fit an int64.
func literalMarker(line []byte) (n int64, nonSync, ok, valid bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false, false
	}
	digits := line[i+1 : len(line)-1]
	if len(digits) > 0 && digits[len(digits)-1] == '+' {
		nonSync = true
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return 0, false, false, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false, false
		}
	}
	v, good := parseUint(digits, 1<<63-1)
	return int64(v), nonSync, true, good
}

// parseUint parses decimal digits (all known to be digits) not above max.
func parseUint(digits []byte, max uint64) (uint64, bool) {
	if len(digits) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// discardCommand skips what is left of the current command after an error
// so that the Reader is at the start of the next command line
// (RFC 7888 §4): if the current line ends with a non-synchronising literal
// marker, the literal's bytes (which the client is sending anyway) are read
// and thrown away, then the next line, and so on. A synchronising literal
// ends the command: the client waits for a continuation that never comes,
// sees the BAD and abandons the command.
func (r *Reader) discardCommand() error {
	for {
		n, nonSync, ok, valid := literalMarker(r.line)
		if !ok || !nonSync {
			return nil
		}
		if !valid || n > r.lim.MaxDrain {
			return &SyntaxError{Kind: KindTooBig, Fatal: true,
				Msg: "non-synchronizing literal too large to skip"}
		}
		if _, err := io.CopyN(io.Discard, r.br, n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := r.readLine(); err != nil && err != errTooLong {
			return noEOF(err)
		}
	}
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside a command the
// connection must not end.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ---- character classes (RFC 3501 §9) ----

var (
	atomChar    [256]bool // ATOM-CHAR
	astringChar [256]bool // ASTRING-CHAR = ATOM-CHAR / resp-specials
	listChar    [256]bool // list-char = ATOM-CHAR / list-wildcards / resp-specials
	tagChar     [256]bool // tag = 1*<any ASTRING-CHAR except "+">
)

func init() {
	for c := 0x21; c < 0x7f; c++ {
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
		default:
			atomChar[c] = true
		}
	}
	astringChar = atomChar
	astringChar[']'] = true
	listChar = astringChar
	listChar['%'] = true
	listChar['*'] = true
	tagChar = astringChar
	tagChar['+'] = false
}

// ---- primitive parsers over the current line ----

func (r *Reader) eol() bool { return r.pos >= len(r.line) }

func (r *Reader) peek() byte {
	if r.pos >= len(r.line) {
		return 0
	}
	return r.line[r.pos]
}

// peekFold reports whether the input at the current position starts with s
// (ASCII case-insensitive) followed by a delimiter (SP, "(", ")", "[", end).
func (r *Reader) peekWord(s string) bool {
	rest := r.line[r.pos:]
	if len(rest) < len(s) || !strings.EqualFold(string(rest[:len(s)]), s) {
		return false
	}
	if len(rest) == len(s) {
		return true
	}
	switch rest[len(s)] {
	case ' ', '(', ')', '[', ']':
		return true
	}
	return false
}

func (r *Reader) expect(c byte) error {
	if r.peek() != c || r.eol() {
		return r.errExpected(string(c))
	}
	r.pos++
	return nil
}

func (r *Reader) sp() error {
	if r.eol() || r.line[r.pos] != ' ' {
		return r.errExpected("SP")
	}
	r.pos++
	return nil
}

func (r *Reader) errExpected(what string) *SyntaxError {
	if r.eol() {
		return errorf("expected %s, got end of line", what)
	}
	return errorf("expected %s at %q", what, snippet(r.line[r.pos:]))
}

func snippet(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// end checks that the command line is complete (RFC 3501 §9 command ends
// with CRLF).
func (r *Reader) end() error {
	if !r.eol() {
		return errorf("unexpected %q at end of command", snippet(r.line[r.pos:]))
	}
	return nil
}

// enter/leave bound nesting depth (Limits.MaxDepth).
func (r *Reader) enter() error {
	r.depth++
	if r.depth > r.lim.MaxDepth {
		return errorf("nesting too deep")
	}
	return nil
}

func (r *Reader) leave() { r.depth-- }

// take reads a maximal run of bytes of the class.
func (r *Reader) take(class *[256]bool) []byte {
	i := r.pos
	for i < len(r.line) && class[r.line[i]] {
		i++
	}
	b := r.line[r.pos:i]
	r.pos = i
	return b
}

// atom reads 1*ATOM-CHAR.
func (r *Reader) atom() (string, error) {
	b := r.take(&atomChar)
	if len(b) == 0 {
		return "", r.errExpected("atom")
	}
	return string(b), nil
}

// word reads an alphanumeric keyword such as a command, fetch item or
// search key name ([A-Za-z0-9.-]); it is upper-cased.
func (r *Reader) word() (string, error) {
	i := r.pos
	for i < len(r.line) {
		c := r.line[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' {
			i++
			continue
		}
		break
	}
	if i == r.pos {
		return "", r.errExpected("keyword")
	}
	w := strings.ToUpper(string(r.line[r.pos:i]))
	r.pos = i
	return w, nil
}

// number reads a "number" (RFC 3501 §9: unsigned 32-bit).
func (r *Reader) number() (uint32, error) {
	v, err := r.numberMax(1<<32 - 1)
	return uint32(v), err
}

// nzNumber reads an "nz-number" (a non-zero 32-bit number).
func (r *Reader) nzNumber() (uint32, error) {
	start := r.pos
	v, err := r.number()
	if err == nil && v == 0 {
		r.pos = start
		return 0, errorf("expected non-zero number")
	}
	return v, err
}

// number64 reads a number up to 2^63-1 (RFC 9051 number64, RFC 7162
// mod-sequence-value).
func (r *Reader) number64() (uint64, error) { return r.numberMax(1<<63 - 1) }

func (r *Reader) numberMax(max uint64) (uint64, error) {
	i := r.pos
	for i < len(r.line) && r.line[i] >= '0' && r.line[i] <= '9' {
		i++
	}
	if i == r.pos {
		return 0, r.errExpected("number")
	}
	v, ok := parseUint(r.line[r.pos:i], max)
	if !ok {
		return 0, errorf("number out of range")
	}
	r.pos = i
	return v, nil
}

// quoted reads a quoted string (RFC 3501 §9 quoted; RFC 6855 §3 and
// RFC 9051 allow UTF-8 in it). Only \" and \\ may be escaped.
func (r *Reader) quoted() (string, error) {
	if err := r.expect('"'); err != nil {
		return "", err
	}
	var sb []byte
	start := r.pos
	for {
		if r.eol() {
			return "", errorf("unterminated quoted string")
		}
		c := r.line[r.pos]
		switch {
		case c == '"':
			var s string
			if sb == nil {
				s = string(r.line[start:r.pos])
			} else {
				s = string(sb)
			}
			r.pos++
			if !utf8.ValidString(s) {
				return "", errorf("invalid UTF-8 in quoted string")
			}
			return s, nil
		case c == '\\':
			if sb == nil {
				sb = append([]byte{}, r.line[start:r.pos]...)
			}
			r.pos++
			if r.eol() || (r.line[r.pos] != '"' && r.line[r.pos] != '\\') {
				return "", errorf("invalid escape in quoted string")
			}
			sb = append(sb, r.line[r.pos])
			r.pos++
		case c == '\r' || c == '\n' || c == 0:
			return "", errorf("invalid character in quoted string")
		default:
			if sb != nil {
				sb = append(sb, c)
			}
			r.pos++
		}
	}
}

// isLiteralStart reports whether a literal (or with binary, a literal8)
// starts at the current position.
func (r *Reader) isLiteralStart(binary bool) bool {
	c := r.peek()
	if c == '{' {
		return true
	}
	return binary && c == '~' && r.pos+1 < len(r.line) && r.line[r.pos+1] == '{'
}

// literalHeader parses "{n}" / "{n+}" (and "~{...}" if binary) which must end
// the line (RFC 3501 §4.3), and applies the size limits: max for this
// literal, plus 4096 for a non-synchronising literal under LITERAL-.
func (r *Reader) literalHeader(binary bool, max int64) (size int64, nonSync, lit8 bool, err error) {
	if binary && r.peek() == '~' {
		lit8 = true
		r.pos++
	}
	if err := r.expect('{'); err != nil {
		return 0, false, false, err
	}
	v, err := r.number64()
	if err != nil {
		return 0, false, false, err
	}
	if r.peek() == '+' {
		nonSync = true
		r.pos++
	}
	if err := r.expect('}'); err != nil {
		return 0, false, false, err
	}
	if !r.eol() {
		return 0, false, false, errorf("literal announcement must end the line")
	}
	size = int64(v)
	if nonSync && r.lim.LiteralMinus && size > LiteralMinusMax {
		return 0, false, false, &SyntaxError{Kind: KindTooBig,
			Msg: "non-synchronizing literal larger than 4096 octets (LITERAL-)"}
	}
	if size > max {
		return 0, false, false, &SyntaxError{Kind: KindTooBig, Msg: "literal too large"}
	}
	if !nonSync && r.cont == nil {
		return 0, false, false, errorf("synchronizing literals not accepted")
	}
	return size, nonSync, lit8, nil
}

// literal reads a literal whose contents are buffered (every literal but
// APPEND's message): the contents count against MaxBuffered. After the
// contents the next line of the command becomes current.
func (r *Reader) literal() (string, error) {
	size, nonSync, _, err := r.literalHeader(false, r.lim.MaxBuffered-r.used)
	if err != nil {
		return "", err
	}
	if !nonSync {
		if err := r.cont(); err != nil {
			return "", err
		}
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r.br, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	r.used += size
	if bytes.IndexByte(b, 0) >= 0 {
		// CHAR8 excludes NUL (RFC 3501 §9). Read the rest of the
		// command first so that resynchronisation starts from it.
		if err := r.nextLine(); err != nil {
			return "", err
		}
		return "", errorf("NUL in literal")
	}
	if err := r.nextLine(); err != nil {
		return "", err
	}
	return string(b), nil
}

// nextLine reads the continuation of a command after a literal.
func (r *Reader) nextLine() error {
	err := r.readLine()
	if err == errTooLong {
		return &SyntaxError{Kind: KindTooLong, Msg: "command line too long"}
	}
	if err != nil {
		return noEOF(err)
	}
	r.used += int64(len(r.line))
	if r.used > r.lim.MaxBuffered {
		return &SyntaxError{Kind: KindTooLong, Msg: "command too long"}
	}
	return nil
}

// str reads a "string": quoted or literal.
func (r *Reader) str() (string, error) {
	switch {
	case r.peek() == '"':
		return r.quoted()
	case r.isLiteralStart(false):
		return r.literal()
	}
	return "", r.errExpected("string")
}

// astring reads an "astring": 1*ASTRING-CHAR or string.
func (r *Reader) astring() (string, error) {
	switch {
	case r.peek() == '"':
		return r.quoted()
	case r.isLiteralStart(false):
		return r.literal()
	}
	b := r.take(&astringChar)
	if len(b) == 0 {
		return "", r.errExpected("string")
	}
	return string(b), nil
}

// nstring reads an "nstring": string or NIL (reported by isNil).
func (r *Reader) nstring() (s string, isNil bool, err error) {
	if r.peekWord("NIL") {
		r.pos += 3
		return "", true, nil
	}
	s, err = r.str()
	return s, false, err
}

// mailbox reads a "mailbox" (RFC 3501 §9: "INBOX" / astring); INBOX in any
// case is normalised to "INBOX" (RFC 3501 §5.1). The name is returned as
// sent: UTF-8 (RFC 6855) or modified UTF-7 (see DecodeMUTF7), as the
// session has negotiated.
func (r *Reader) mailbox() (string, error) {
	s, err := r.astring()
	if err != nil {
		return "", err
	}
	return NormalizeMailbox(s), nil
}

// NormalizeMailbox maps any case variant of "INBOX" to "INBOX"
// (RFC 3501 §5.1: INBOX is case-insensitive); other names are unchanged.
func NormalizeMailbox(name string) string {
	if len(name) == 5 && strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}

// listMailbox reads a "list-mailbox": 1*list-char or string.
func (r *Reader) listMailbox() (string, error) {
	switch {
	case r.peek() == '"':
		return r.quoted()
	case r.isLiteralStart(false):
		return r.literal()
	}
	b := r.take(&listChar)
	if len(b) == 0 {
		return "", r.errExpected("mailbox pattern")
	}
	return string(b), nil
}

// canonical spellings of the system flags (RFC 3501 §2.3.2, RFC 9051).
var systemFlags = map[string]string{
	`\ANSWERED`: `\Answered`,
	`\FLAGGED`:  `\Flagged`,
	`\DELETED`:  `\Deleted`,
	`\SEEN`:     `\Seen`,
	`\DRAFT`:    `\Draft`,
	`\RECENT`:   `\Recent`,
}

// CanonicalFlag returns the canonical spelling of a system flag
// ("\SEEN" -> "\Seen"); other flags are returned unchanged.
func CanonicalFlag(f string) string {
	if len(f) > 0 && f[0] == '\\' {
		if c, ok := systemFlags[strings.ToUpper(f)]; ok {
			return c
		}
	}
	return f
}

// flag reads a "flag" (RFC 3501 §9: "\" atom system flag or extension,
// or a keyword atom). System flags are canonicalised.
func (r *Reader) flag() (string, error) {
	if r.peek() == '\\' {
		r.pos++
		a, err := r.atom()
		if err != nil {
			return "", errorf("invalid flag")
		}
		return CanonicalFlag(`\` + a), nil
	}
	a, err := r.atom()
	if err != nil {
		return "", r.errExpected("flag")
	}
	return a, nil
}

// flagList reads a "flag-list": "(" [flag *(SP flag)] ")". The result is
// non-nil (empty for "()").
func (r *Reader) flagList() ([]string, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	flags := []string{}
	for r.peek() != ')' || r.eol() {
		if len(flags) > 0 {
			if err := r.sp(); err != nil {
				return nil, err
			}
		}
		f, err := r.flag()
		if err != nil {
			return nil, err
		}
		flags = append(flags, f)
	}
	r.pos++
	return flags, nil
}

// list parses "(" elem *(SP elem) ")" calling fn for each element; empty
// lists are accepted only if allowEmpty.
func (r *Reader) list(allowEmpty bool, fn func() error) error {
	if err := r.expect('('); err != nil {
		return err
	}
	if err := r.enter(); err != nil {
		return err
	}
	defer r.leave()
	if r.peek() == ')' && !r.eol() {
		if !allowEmpty {
			return errorf("empty list")
		}
		r.pos++
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		if r.peek() == ')' && !r.eol() {
			r.pos++
			return nil
		}
		if err := r.sp(); err != nil {
			return r.errExpected("SP or )")
		}
	}
}
