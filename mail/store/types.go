// Package store defines the storage interface that every Eider front-end (IMAP,
// POP3, LMTP/SMTP delivery, the REST API and the WebSocket stream) uses, and
// the types that cross it. Backends (SQLite in embedded mode, MongoDB in
// distributed mode) implement Store; storetest holds the conformance suite
// that every backend must pass. Nothing backend-specific (SQL, BSON) appears
// here.
package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/eidermail/eider/mail/blob"
)

// Errors returned by every backend; callers test them with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrExists        = errors.New("already exists")
	ErrOverQuota     = errors.New("over quota")
	ErrAuthFailed    = errors.New("authentication failed")
	ErrUserDisabled  = errors.New("user disabled")
	ErrSpecialUse    = errors.New("mailbox has a special use")
	ErrInvalidName   = errors.New("invalid mailbox name")
	ErrNoSuchParent  = errors.New("parent mailbox does not exist")
	ErrHasChildren   = errors.New("mailbox has inferior mailboxes")
	ErrMainAddress   = errors.New("cannot delete the main address")
	ErrInvalidInput  = errors.New("invalid input")
	ErrLastAddress   = errors.New("user has no other address")
	ErrMailboxExists = fmt.Errorf("mailbox %w", ErrExists)
)

// Special-use attributes (RFC 6154) given to the mailboxes created with a user.
const (
	SpecialSent   = `\Sent`
	SpecialJunk   = `\Junk`
	SpecialTrash  = `\Trash`
	SpecialDrafts = `\Drafts`
)

// DefaultMailboxes are created with every user, in this order.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Drafts", SpecialDrafts},
	{"Sent Mail", SpecialSent},
	{"Junk", SpecialJunk},
	{"Trash", SpecialTrash},
}

// Separator is the mailbox hierarchy delimiter.
const Separator = "/"

// System flags (RFC 3501 §2.3.2). Keywords are any other atom.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// User is an account.
type User struct {
	ID string
	// Username is unique, stored in NFC; lookup is case-insensitive.
	Username string
	// PasswordHash is an argon2id PHC string ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
	PasswordHash string
	// QuotaLimit in bytes; 0 means unlimited.
	QuotaLimit int64
	// StorageUsed is the sum of RFC822.SIZE of every message the user has.
	StorageUsed int64
	Disabled    bool
	Created     time.Time
	// TokensRevoked voids every API token issued at or before it (zero:
	// none revoked). It only moves forward.
	TokensRevoked time.Time
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Username     string
	PasswordHash string // already hashed (see package password)
	QuotaLimit   int64
	// Address, if not empty, becomes the user's first (main) address.
	Address string
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	PasswordHash *string
	QuotaLimit   *int64
	Disabled     *bool
	// TokensRevoked is stored only if it is later than the stored value.
	TokensRevoked *time.Time
}

// Address is an e-mail address owned by a user.
type Address struct {
	ID     string
	UserID string
	// Address as given (unicode local part and domain, RFC 6531).
	Address string
	// Normalized is the lookup key: see package address (lowercase, NFC,
	// unicode domain). Unique across all users.
	Normalized string
	Main       bool
	Created    time.Time
}

// Mailbox is a folder of messages.
type Mailbox struct {
	ID     string
	UserID string
	// Name is the full path with "/" separators; "INBOX" is the inbox.
	Name string
	// SpecialUse is "" or one of the Special* constants.
	SpecialUse string
	// UIDValidity never changes for the life of the mailbox (RFC 3501 §2.3.1.1).
	UIDValidity uint32
	// UIDNext is the UID the next appended message gets; UIDs only grow.
	UIDNext uint32
	// HighestModSeq is the largest MODSEQ ever assigned in this mailbox,
	// including to expunges (RFC 7162). It only grows.
	HighestModSeq uint64
	Subscribed    bool
	Created       time.Time
}

// Counters are per-mailbox totals, exact at the time of the call.
type Counters struct {
	Total  int64
	Unseen int64
	// Size is the sum of RFC822.SIZE of the messages.
	Size int64
}

// MessageRef is the small per-message record sessions keep: enough to build
// an IMAP snapshot (UID list and flags).
type MessageRef struct {
	ID     string
	UID    uint32
	ModSeq uint64
	// Flags holds system flags and keywords, sorted, without duplicates.
	Flags []string
}

// Message is a stored message.
type Message struct {
	MessageRef
	MailboxID    string
	UserID       string
	InternalDate time.Time
	// Size is RFC822.SIZE: total raw bytes.
	Size int64
	// ThreadID groups messages of one conversation of a user.
	ThreadID string
	// Summary fields, decoded, for lists.
	Subject        string
	From           string
	Date           time.Time
	MessageID      string
	Intro          string
	HasAttachments bool
	// Summary is the opaque list-ready summary written by package mail
	// (the address lists, JSON): a listing needs it and not Meta. Fetch
	// returns it with or without Meta; nil for messages stored before it
	// existed and not backfilled.
	Summary []byte
	// Segments rebuild the raw message byte for byte (see package blob).
	Segments []blob.Segment
	// Meta is the opaque precomputed structure from package mimetree (JSON).
	// The store keeps it and returns it unchanged.
	Meta []byte
}

// NewMessage is the input of Append: a parsed message plus its IMAP state.
type NewMessage struct {
	Flags []string
	// InternalDate; zero means now.
	InternalDate time.Time
	Size         int64
	Segments     []blob.Segment
	Meta         []byte
	// Summary is kept and returned as Message.Summary.
	Summary []byte

	// Search and listing fields, already decoded to UTF-8 by the parser.
	Subject string
	// From, To, Cc, Bcc: addresses as "Name <addr>" joined with ", ".
	From, To, Cc, Bcc string
	Date              time.Time // Date: header; zero if absent
	MessageID         string    // without angle brackets
	InReplyTo         string    // without angle brackets
	References        []string  // without angle brackets
	// Headers are the top-level header fields (decoded) for HEADER search.
	Headers []Header
	// Text is the plain text of the body for full-text search.
	Text           string
	Intro          string
	HasAttachments bool
}

// Header is one decoded header field.
type Header struct {
	Key   string
	Value string
}

// FlagMode says how StoreFlags combines the given flags with the current ones.
type FlagMode int

const (
	FlagsSet FlagMode = iota
	FlagsAdd
	FlagsRemove
)

// FlagUpdate is the input of StoreFlags (RFC 3501 STORE, RFC 7162 UNCHANGEDSINCE).
type FlagUpdate struct {
	Mode  FlagMode
	Flags []string
	// UnchangedSince, if non-zero, makes the update conditional per message:
	// a message whose MODSEQ is greater is not changed and is reported in
	// FlagResult.Modified (RFC 7162 §3.1.3).
	UnchangedSince uint64
}

// FlagResult is what StoreFlags did.
type FlagResult struct {
	// Updated are the messages whose flags changed, with their new MODSEQ.
	// Messages whose flags would not change are not modified and not listed.
	Updated []MessageRef
	// Modified lists UIDs that failed the UNCHANGEDSINCE test.
	Modified []uint32
	// ModSeq is the MODSEQ given to this change (0 if nothing changed).
	ModSeq uint64
}

// UIDPair maps a source UID to the UID of the copy in the target mailbox.
type UIDPair struct {
	Src, Dst uint32
}

// CopyResult is what Copy and Move did (RFC 4315 COPYUID, RFC 6851).
type CopyResult struct {
	DstUIDValidity uint32
	Pairs          []UIDPair
	// ExpungeModSeq is the MODSEQ of the expunge in the source (Move only).
	ExpungeModSeq uint64
}

// ExpungeResult is what Expunge did.
type ExpungeResult struct {
	UIDs   []uint32
	ModSeq uint64
}

// ChangeKind names a journal entry's kind.
type ChangeKind string

const (
	ChangeExists           ChangeKind = "exists"  // message added to a mailbox
	ChangeExpunge          ChangeKind = "expunge" // message removed
	ChangeFlags            ChangeKind = "flags"   // flags or keywords changed
	ChangeMailboxCreate    ChangeKind = "mailbox-create"
	ChangeMailboxRename    ChangeKind = "mailbox-rename"
	ChangeMailboxDelete    ChangeKind = "mailbox-delete"
	ChangeMailboxSubscribe ChangeKind = "mailbox-subscribe"
)

// Change is one journal entry. Entries of a user are numbered by Seq,
// strictly increasing in commit order; within a mailbox, message entries are
// also in MODSEQ order.
type Change struct {
	Seq       int64
	UserID    string
	MailboxID string
	Kind      ChangeKind
	// ModSeq of the mailbox change (message kinds); 0 for mailbox kinds.
	ModSeq    uint64
	UID       uint32
	MessageID string
	Flags     []string // new flags for ChangeFlags and ChangeExists
	// Name is the mailbox name (new name for a rename); OldName for a rename.
	Name    string
	OldName string
	Time    time.Time
	// SourceMailboxID and SourceUID name the message a ChangeExists entry
	// was copied or moved from (RFC 3501 §6.4.7 COPY, RFC 6851 MOVE);
	// empty/0 for an append. Moved tells a move from a copy.
	SourceMailboxID string
	SourceUID       uint32
	Moved           bool
}

// Check is the report of a consistency check.
type Check struct {
	Mailboxes int64
	Messages  int64
	Blobs     int64
	// Problems is empty when the store is consistent.
	Problems []string
}
