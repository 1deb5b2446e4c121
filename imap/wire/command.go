package wire

import (
	"encoding/base64"
	"strings"
	"time"
)

// Command is one parsed client command.
//
// Name is the upper-case command name without the "UID " prefix; UID is set
// for UID COPY/MOVE/FETCH/SEARCH/STORE/EXPUNGE (RFC 3501 §6.4.8,
// RFC 4315 §2.1). Args holds the command's arguments, one of the *...Args
// types below, or nil for commands without arguments (CAPABILITY, NOOP,
// LOGOUT, STARTTLS, NAMESPACE, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE).
type Command struct {
	Tag  string
	Name string
	UID  bool
	Args any
}

// AuthenticateArgs: AUTHENTICATE mechanism [initial-response]
// (RFC 3501 §6.2.2, SASL-IR RFC 4959 §3).
type AuthenticateArgs struct {
	Mechanism string // upper case
	// HasInitialResponse is set when the client sent an initial response;
	// InitialResponse is its decoded value, empty for "=" (RFC 4959 §3).
	HasInitialResponse bool
	InitialResponse    []byte
}

// LoginArgs: LOGIN userid password (RFC 3501 §6.2.3).
type LoginArgs struct {
	Username, Password string
}

// EnableArgs: ENABLE capability... (RFC 5161 §3.1). Capabilities are
// upper-cased.
type EnableArgs struct {
	Capabilities []string
}

// IDParam is one field of an ID command (RFC 2971 §3.1).
type IDParam struct {
	Key   string
	Value string
	Nil   bool // the value was NIL
}

// IDArgs: ID ("key" "value" ...) or ID NIL (RFC 2971 §3.1). Params is nil
// for NIL.
type IDArgs struct {
	Params []IDParam
}

// MailboxArgs is the argument of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type MailboxArgs struct {
	Mailbox string
}

// QResyncParams is the QRESYNC select parameter (RFC 7162 §3.2.5).
type QResyncParams struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   NumSet // may be empty
	// SeqMatch: known sequence numbers and their UIDs, both empty if absent.
	KnownSeqs, KnownSeqUIDs NumSet
}

// SelectArgs: SELECT/EXAMINE mailbox [(CONDSTORE) | (QRESYNC (...))]
// (RFC 3501 §6.3.1, RFC 4466 §2.1, RFC 7162 §3.1.8, §3.2.5).
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResyncParams
}

// CreateArgs: CREATE mailbox [(USE (special-use...))] (RFC 3501 §6.3.3,
// RFC 6154 §3).
type CreateArgs struct {
	Mailbox    string
	SpecialUse []string // canonical \Sent etc., nil if absent
}

// RenameArgs: RENAME existing new (RFC 3501 §6.3.5).
type RenameArgs struct {
	From, To string
}

// StatusItem is a STATUS data item name, upper case (RFC 3501 §6.3.10,
// RFC 7162 §3.1.6 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 9051 DELETED,
// RFC 7889 APPENDLIMIT).
type StatusItem string

const (
	StatusMessages      StatusItem = "MESSAGES"
	StatusRecent        StatusItem = "RECENT"
	StatusUIDNext       StatusItem = "UIDNEXT"
	StatusUIDValidity   StatusItem = "UIDVALIDITY"
	StatusUnseen        StatusItem = "UNSEEN"
	StatusHighestModSeq StatusItem = "HIGHESTMODSEQ"
	StatusSize          StatusItem = "SIZE"
	StatusDeleted       StatusItem = "DELETED"
	StatusAppendLimit   StatusItem = "APPENDLIMIT"
)

// StatusArgs: STATUS mailbox (items...) (RFC 3501 §6.3.10).
type StatusArgs struct {
	Mailbox string
	Items   []StatusItem
}

// AppendArgs: APPEND mailbox [flag-list] [date-time] literal
// (RFC 3501 §6.3.11; literal8 RFC 3516 §4.4; UTF8 (...) RFC 6855 §4).
type AppendArgs struct {
	Mailbox string
	Flags   []string  // nil if absent
	Date    time.Time // zero if absent
	UTF8    bool      // the message came as UTF8 (~{n}) (RFC 6855 §4)
	Message *Literal  // streamed; see Literal
}

// CopyArgs: COPY/MOVE sequence-set mailbox (RFC 3501 §6.4.7, RFC 6851 §3).
type CopyArgs struct {
	Set     NumSet
	Mailbox string
}

// ExpungeArgs: UID EXPUNGE sequence-set (RFC 4315 §2.1).
type ExpungeArgs struct {
	Set NumSet
}

// QuotaRootArgs: GETQUOTA quota-root (RFC 9208 §4.2).
type QuotaRootArgs struct {
	Root string
}

// QuotaLimit is one resource of SETQUOTA (RFC 9208 §4.5).
type QuotaLimit struct {
	Resource string // upper case: STORAGE, MESSAGE, MAILBOX, ...
	Limit    uint64
}

// SetQuotaArgs: SETQUOTA quota-root (resource limit ...) (RFC 9208 §4.5).
type SetQuotaArgs struct {
	Root   string
	Limits []QuotaLimit
}

// CompressArgs: COMPRESS algorithm (RFC 4978 §3), upper case.
type CompressArgs struct {
	Algorithm string
}

// ReadCommand reads and parses the next command. See the package
// documentation for the error contract. An APPEND command's message is
// returned unread in AppendArgs.Message, valid until the next call.
// Empty lines between commands are skipped.
func (r *Reader) ReadCommand() (*Command, error) {
	if err := r.finishPending(); err != nil {
		return nil, err
	}
	for {
		err := r.readLine()
		if err == errTooLong {
			tag := r.longTag
			if derr := r.discardCommand(); derr != nil {
				return nil, derr
			}
			return nil, &SyntaxError{Kind: KindTooLong, Tag: tag, Msg: "command line too long"}
		}
		if err != nil {
			return nil, err
		}
		if len(r.line) > 0 {
			break
		}
	}
	r.used, r.depth = 0, 0
	cmd := &Command{}
	err := r.parseCommand(cmd)
	if err == nil {
		return cmd, nil
	}
	se, ok := err.(*SyntaxError)
	if !ok {
		return nil, err // I/O error or the ContinueFunc's error
	}
	se.Tag, se.Name = cmd.Tag, cmd.Name
	if !se.Fatal {
		if derr := r.discardCommand(); derr != nil {
			if dse, ok := derr.(*SyntaxError); ok {
				dse.Tag, dse.Name = cmd.Tag, cmd.Name
			}
			return nil, derr
		}
	}
	return nil, se
}

// ReadLine reads one line without interpreting literals: a SASL response
// during AUTHENTICATE (RFC 3501 §6.2.2) or "DONE" ending IDLE
// (RFC 2177 §3). The CRLF is stripped. An overlong line is discarded and
// reported as a *SyntaxError of KindTooLong.
func (r *Reader) ReadLine() (string, error) {
	if err := r.finishPending(); err != nil {
		return "", err
	}
	err := r.readLine()
	if err == errTooLong {
		return "", &SyntaxError{Kind: KindTooLong, Msg: "line too long"}
	}
	if err != nil {
		return "", err
	}
	return string(r.line), nil
}

// IsDone reports whether line (from ReadLine) is the "DONE" ending IDLE
// (RFC 2177 §3; case-insensitive like all IMAP keywords).
func IsDone(line string) bool { return strings.EqualFold(line, "DONE") }

// DecodeSASLResponse decodes a client's AUTHENTICATE continuation line
// (RFC 3501 §6.2.2, RFC 9051 §6.2.2): "*" cancels the exchange, anything
// else must be base64 ("" and "=" both stand for an empty response).
func DecodeSASLResponse(line string) (data []byte, cancel bool, err error) {
	if line == "*" {
		return nil, true, nil
	}
	if line == "" || line == "=" {
		return []byte{}, false, nil
	}
	data, derr := base64.StdEncoding.DecodeString(line)
	if derr != nil {
		return nil, false, errorf("invalid base64 in SASL response")
	}
	return data, false, nil
}

// parseCommand parses tag SP command-name [args] (RFC 3501 §9 command).
func (r *Reader) parseCommand(cmd *Command) error {
	tag := r.take(&tagChar)
	if len(tag) == 0 {
		return errorf("missing or invalid tag")
	}
	cmd.Tag = string(tag)
	if err := r.sp(); err != nil {
		return errorf("missing command")
	}
	name, err := r.word()
	if err != nil {
		return errorf("missing command")
	}
	if name == "UID" {
		if err := r.sp(); err != nil {
			return err
		}
		if name, err = r.word(); err != nil {
			return err
		}
		switch name {
		case "COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE":
			cmd.UID = true
		default:
			cmd.Name = "UID " + name
			return &SyntaxError{Kind: KindUnknown, Msg: "unknown UID command " + name}
		}
	}
	cmd.Name = name
	if len(name) > 0 && r.peek() != ' ' && !r.eol() {
		return &SyntaxError{Kind: KindUnknown, Msg: "unknown command"}
	}
	parse, ok := commands[name]
	if !ok {
		return &SyntaxError{Kind: KindUnknown, Msg: "unknown command " + snippet([]byte(name))}
	}
	if cmd.UID && name == "EXPUNGE" {
		parse = parseUIDExpunge
	}
	args, err := parse(r, cmd)
	if err != nil {
		return err
	}
	cmd.Args = args
	if _, isAppend := args.(*AppendArgs); isAppend {
		return nil // the line continues after the message literal
	}
	return r.end()
}

type parseFunc func(r *Reader, cmd *Command) (any, error)

var commands map[string]parseFunc

func init() {
	noArgs := func(*Reader, *Command) (any, error) { return nil, nil }
	commands = map[string]parseFunc{
		// RFC 3501 §6.1 any state
		"CAPABILITY": noArgs,
		"NOOP":       noArgs,
		"LOGOUT":     noArgs,
		// §6.2 not authenticated
		"STARTTLS":     noArgs,
		"AUTHENTICATE": parseAuthenticate,
		"LOGIN":        parseLogin,
		// authenticated
		"ENABLE":      parseEnable,
		"ID":          parseID,
		"SELECT":      parseSelect,
		"EXAMINE":     parseSelect,
		"CREATE":      parseCreate,
		"DELETE":      parseMailboxArg,
		"RENAME":      parseRename,
		"SUBSCRIBE":   parseMailboxArg,
		"UNSUBSCRIBE": parseMailboxArg,
		"LIST":        parseList,
		"LSUB":        parseList,
		"NAMESPACE":   noArgs,
		"STATUS":      parseStatus,
		"APPEND":      parseAppend,
		"IDLE":        noArgs,
		// selected
		"CHECK":    noArgs,
		"CLOSE":    noArgs,
		"UNSELECT": noArgs,
		"EXPUNGE":  noArgs,
		"SEARCH":   parseSearch,
		"FETCH":    parseFetch,
		"STORE":    parseStore,
		"COPY":     parseCopy,
		"MOVE":     parseCopy,
		// QUOTA (RFC 9208)
		"GETQUOTA":     parseGetQuota,
		"GETQUOTAROOT": parseMailboxArg,
		"SETQUOTA":     parseSetQuota,
		// COMPRESS (RFC 4978)
		"COMPRESS": parseCompress,
	}
}

// parseAuthenticate: "AUTHENTICATE" SP auth-type [SP (base64 / "=")]
// (RFC 3501 §9, RFC 4959 §7).
func parseAuthenticate(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	mech, err := r.atom()
	if err != nil {
		return nil, err
	}
	a := &AuthenticateArgs{Mechanism: strings.ToUpper(mech)}
	if r.eol() {
		return a, nil
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	ir := r.take(&atomChar) // base64 chars and "=" are ATOM-CHARs
	if len(ir) == 0 {
		return nil, r.errExpected("initial response")
	}
	a.HasInitialResponse = true
	if string(ir) == "=" {
		a.InitialResponse = []byte{}
		return a, nil
	}
	a.InitialResponse, err = base64.StdEncoding.DecodeString(string(ir))
	if err != nil {
		return nil, errorf("invalid base64 in initial response")
	}
	return a, nil
}

// parseLogin: "LOGIN" SP userid SP password (RFC 3501 §9).
func parseLogin(r *Reader, _ *Command) (any, error) {
	var a LoginArgs
	var err error
	if err = r.sp(); err != nil {
		return nil, err
	}
	if a.Username, err = r.astring(); err != nil {
		return nil, err
	}
	if err = r.sp(); err != nil {
		return nil, err
	}
	if a.Password, err = r.astring(); err != nil {
		return nil, err
	}
	return &a, nil
}

// parseEnable: "ENABLE" 1*(SP capability) (RFC 5161 §4).
func parseEnable(r *Reader, _ *Command) (any, error) {
	a := &EnableArgs{}
	for !r.eol() {
		if err := r.sp(); err != nil {
			return nil, err
		}
		c, err := r.atom()
		if err != nil {
			return nil, err
		}
		a.Capabilities = append(a.Capabilities, strings.ToUpper(c))
	}
	if len(a.Capabilities) == 0 {
		return nil, errorf("ENABLE needs at least one capability")
	}
	return a, nil
}

// parseID: "ID" SP ( "(" [string SP nstring *(SP string SP nstring)] ")" / nil )
// (RFC 2971 §4; an empty list is tolerated).
func parseID(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	a := &IDArgs{}
	if r.peekWord("NIL") {
		r.pos += 3
		return a, nil
	}
	a.Params = []IDParam{}
	err := r.list(true, func() error {
		k, err := r.str()
		if err != nil {
			return err
		}
		if err := r.sp(); err != nil {
			return err
		}
		v, isNil, err := r.nstring()
		if err != nil {
			return err
		}
		if len(a.Params) >= 30 { // RFC 2971 §3.3: at most 30 pairs
			return errorf("too many ID parameters")
		}
		a.Params = append(a.Params, IDParam{Key: k, Value: v, Nil: isNil})
		return nil
	})
	return a, err
}

func parseMailboxArg(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	return &MailboxArgs{Mailbox: m}, nil
}

// parseSelect: "SELECT"/"EXAMINE" SP mailbox [SP "(" select-param *(SP select-param) ")"]
// (RFC 4466 §2.1; CONDSTORE RFC 7162 §3.1.8; QRESYNC §3.2.5).
func parseSelect(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &SelectArgs{Mailbox: m}
	if r.eol() {
		return a, nil
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	err = r.list(false, func() error {
		p, err := r.word()
		if err != nil {
			return err
		}
		switch p {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			if a.QResync != nil {
				return errorf("duplicate QRESYNC")
			}
			if err := r.sp(); err != nil {
				return err
			}
			a.QResync, err = r.qresyncParams()
			return err
		default:
			return errorf("unknown SELECT parameter %s", p)
		}
		return nil
	})
	return a, err
}

// qresyncParams: "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 §7).
func (r *Reader) qresyncParams() (*QResyncParams, error) {
	if err := r.expect('('); err != nil {
		return nil, err
	}
	q := &QResyncParams{}
	var err error
	if q.UIDValidity, err = r.nzNumber(); err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if q.ModSeq, err = r.number64(); err != nil {
		return nil, err
	}
	if r.peek() == ' ' {
		r.pos++
		if r.peek() != '(' {
			if q.KnownUIDs, err = r.numSet(); err != nil {
				return nil, err
			}
			if q.KnownUIDs.Saved {
				return nil, errorf("$ not allowed in QRESYNC")
			}
			if r.peek() == ' ' {
				r.pos++
			}
		}
		if r.peek() == '(' {
			r.pos++
			if q.KnownSeqs, err = r.numSet(); err != nil {
				return nil, err
			}
			if err := r.sp(); err != nil {
				return nil, err
			}
			if q.KnownSeqUIDs, err = r.numSet(); err != nil {
				return nil, err
			}
			if q.KnownSeqs.Saved || q.KnownSeqUIDs.Saved {
				return nil, errorf("$ not allowed in QRESYNC")
			}
			if err := r.expect(')'); err != nil {
				return nil, err
			}
		}
	}
	if err := r.expect(')'); err != nil {
		return nil, err
	}
	return q, nil
}

// special-use attributes (RFC 6154 §2), canonical spelling.
var specialUses = map[string]string{
	`\ALL`: `\All`, `\ARCHIVE`: `\Archive`, `\DRAFTS`: `\Drafts`,
	`\FLAGGED`: `\Flagged`, `\JUNK`: `\Junk`, `\SENT`: `\Sent`, `\TRASH`: `\Trash`,
	`\IMPORTANT`: `\Important`, // RFC 8457
}

// parseCreate: "CREATE" SP mailbox [create-params]; create-param =
// "USE" SP "(" [use-attr *(SP use-attr)] ")" (RFC 4466 §2.2, RFC 6154 §6).
func parseCreate(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &CreateArgs{Mailbox: m}
	if r.eol() {
		return a, nil
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	err = r.list(false, func() error {
		p, err := r.word()
		if err != nil {
			return err
		}
		if p != "USE" {
			return errorf("unknown CREATE parameter %s", p)
		}
		if err := r.sp(); err != nil {
			return err
		}
		a.SpecialUse = []string{}
		return r.list(true, func() error {
			f, err := r.flag()
			if err != nil {
				return err
			}
			c, ok := specialUses[strings.ToUpper(f)]
			if !ok {
				return errorf("unknown special-use attribute %s", f)
			}
			a.SpecialUse = append(a.SpecialUse, c)
			return nil
		})
	})
	return a, err
}

// parseRename: "RENAME" SP mailbox SP mailbox (RFC 3501 §9).
func parseRename(r *Reader, _ *Command) (any, error) {
	a := &RenameArgs{}
	var err error
	if err = r.sp(); err != nil {
		return nil, err
	}
	if a.From, err = r.mailbox(); err != nil {
		return nil, err
	}
	if err = r.sp(); err != nil {
		return nil, err
	}
	if a.To, err = r.mailbox(); err != nil {
		return nil, err
	}
	return a, nil
}

// statusItems reads "(" status-att *(SP status-att) ")" (RFC 3501 §9).
func (r *Reader) statusItems() ([]StatusItem, error) {
	var items []StatusItem
	err := r.list(false, func() error {
		w, err := r.word()
		if err != nil {
			return err
		}
		switch it := StatusItem(w); it {
		case StatusMessages, StatusRecent, StatusUIDNext, StatusUIDValidity, StatusUnseen,
			StatusHighestModSeq, StatusSize, StatusDeleted, StatusAppendLimit:
			items = append(items, it)
			return nil
		}
		return errorf("unknown STATUS item %s", w)
	})
	return items, err
}

// parseStatus: "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")".
func parseStatus(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	items, err := r.statusItems()
	if err != nil {
		return nil, err
	}
	return &StatusArgs{Mailbox: m, Items: items}, nil
}

// parseAppend: "APPEND" SP mailbox [SP flag-list] [SP date-time] SP
// (literal / literal8 / "UTF8" SP "(" literal8 ")") (RFC 3501 §9,
// RFC 3516 §4.4, RFC 6855 §4). The message literal is not read.
func parseAppend(r *Reader, cmd *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	m, err := r.mailbox()
	if err != nil {
		return nil, err
	}
	a := &AppendArgs{Mailbox: m}
	if err := r.sp(); err != nil {
		return nil, err
	}
	if r.peek() == '(' {
		if a.Flags, err = r.flagList(); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	if r.peek() == '"' {
		if a.Date, err = r.dateTime(); err != nil {
			return nil, err
		}
		if err := r.sp(); err != nil {
			return nil, err
		}
	}
	var trailer byte
	if r.peekWord("UTF8") {
		r.pos += 4
		if err := r.sp(); err != nil {
			return nil, err
		}
		if err := r.expect('('); err != nil {
			return nil, err
		}
		if r.peek() != '~' {
			return nil, errorf("UTF8 APPEND needs a literal8")
		}
		a.UTF8, trailer = true, ')'
	}
	if !r.isLiteralStart(true) {
		return nil, r.errExpected("message literal")
	}
	size, nonSync, lit8, err := r.literalHeader(true, r.lim.MaxLiteral)
	if err != nil {
		return nil, err
	}
	a.Message = &Literal{Size: size, NonSync: nonSync, Binary: lit8, r: r,
		trailer: trailer, remaining: size, tag: cmd.Tag, name: cmd.Name}
	r.pending = a.Message
	return a, nil
}

// parseCopy: "COPY"/"MOVE" SP sequence-set SP mailbox.
func parseCopy(r *Reader, _ *Command) (any, error) {
	a := &CopyArgs{}
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
	if a.Mailbox, err = r.mailbox(); err != nil {
		return nil, err
	}
	return a, nil
}

// parseUIDExpunge: "UID EXPUNGE" SP sequence-set (RFC 4315 §4).
func parseUIDExpunge(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	s, err := r.numSet()
	if err != nil {
		return nil, err
	}
	return &ExpungeArgs{Set: s}, nil
}

// parseGetQuota: "GETQUOTA" SP quota-root (RFC 9208 §4.2).
func parseGetQuota(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	root, err := r.astring()
	if err != nil {
		return nil, err
	}
	return &QuotaRootArgs{Root: root}, nil
}

// parseSetQuota: "SETQUOTA" SP quota-root SP "(" [setquota-resource
// *(SP setquota-resource)] ")"; setquota-resource = resource-name SP
// resource-limit (RFC 9208 §8).
func parseSetQuota(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	root, err := r.astring()
	if err != nil {
		return nil, err
	}
	if err := r.sp(); err != nil {
		return nil, err
	}
	a := &SetQuotaArgs{Root: root, Limits: []QuotaLimit{}}
	err = r.list(true, func() error {
		name, err := r.atom()
		if err != nil {
			return err
		}
		if err := r.sp(); err != nil {
			return err
		}
		n, err := r.number64()
		if err != nil {
			return err
		}
		a.Limits = append(a.Limits, QuotaLimit{Resource: strings.ToUpper(name), Limit: n})
		return nil
	})
	return a, err
}

// parseCompress: "COMPRESS" SP algorithm (RFC 4978 §4).
func parseCompress(r *Reader, _ *Command) (any, error) {
	if err := r.sp(); err != nil {
		return nil, err
	}
	alg, err := r.atom()
	if err != nil {
		return nil, err
	}
	return &CompressArgs{Algorithm: strings.ToUpper(alg)}, nil
}
