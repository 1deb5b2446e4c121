package store

import (
	"context"
	"io"
	"time"
)

// Store is everything the front-ends need from a backend. All methods are
// safe for concurrent use. Methods that take a userID check that the object
// belongs to that user and return ErrNotFound otherwise.
//
// Invariants every backend keeps, under any concurrency:
//   - UIDs in a mailbox are unique and strictly ascending in append order;
//     UIDNext only grows; a UID is never reused (RFC 3501 §2.3.1.1).
//   - MODSEQs in a mailbox strictly increase with each committed change;
//     every change that modifies a message's flags or adds or removes a
//     message gets a MODSEQ greater than all before it (RFC 7162).
//   - User.StorageUsed equals the sum of the sizes of the user's messages.
//   - A method that returned nil error has made its change durable.
type Store interface {
	// CreateUser creates a user, its default mailboxes and optionally its
	// first address. ErrExists if the username or address is taken.
	CreateUser(ctx context.Context, u NewUser) (*User, error)
	GetUser(ctx context.Context, userID string) (*User, error)
	// FindUser looks a user up by username (case-insensitive, NFC) or by any
	// of its addresses (normalized, "+label" ignored).
	FindUser(ctx context.Context, login string) (*User, error)
	// ListUsers returns up to limit users ordered by ID, after the given ID
	// ("" = from the start).
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
	UpdateUser(ctx context.Context, userID string, up UserUpdate) (*User, error)
	// DeleteUser removes the user with everything it owns (and releases blobs).
	DeleteUser(ctx context.Context, userID string) error
	// RecountQuota recomputes StorageUsed from the messages and returns it.
	RecountQuota(ctx context.Context, userID string) (int64, error)

	// AddAddress adds an address; the first one of a user becomes main, and
	// main=true makes it main. ErrExists if any user has it.
	AddAddress(ctx context.Context, userID, address string, main bool) (*Address, error)
	ListAddresses(ctx context.Context, userID string) ([]Address, error)
	SetMainAddress(ctx context.Context, userID, addressID string) error
	// DeleteAddress refuses the main address with ErrMainAddress.
	DeleteAddress(ctx context.Context, userID, addressID string) error
	// ResolveAddress finds the owner of a recipient address: exact normalized
	// match first, then with a "+label" removed from the local part.
	ResolveAddress(ctx context.Context, address string) (*User, *Address, error)

	// CreateMailbox creates a mailbox; parents must exist (ErrNoSuchParent),
	// names are validated (ErrInvalidName), ErrExists if taken.
	CreateMailbox(ctx context.Context, userID, name, specialUse string) (*Mailbox, error)
	GetMailbox(ctx context.Context, userID, mailboxID string) (*Mailbox, error)
	// FindMailbox finds by full name ("inbox" in any case is INBOX).
	FindMailbox(ctx context.Context, userID, name string) (*Mailbox, error)
	// FindSpecialUse finds the user's mailbox with that special use.
	FindSpecialUse(ctx context.Context, userID, specialUse string) (*Mailbox, error)
	// ListMailboxes returns all mailboxes of the user ordered by name.
	ListMailboxes(ctx context.Context, userID string) ([]Mailbox, error)
	// RenameMailbox renames a mailbox and all its inferiors (RFC 3501 §6.3.5).
	// Renaming INBOX is refused with ErrInvalidName.
	RenameMailbox(ctx context.Context, userID, mailboxID, newName string) (*Mailbox, error)
	// DeleteMailbox deletes a mailbox and its messages. INBOX and special-use
	// mailboxes are refused (ErrSpecialUse); a mailbox with inferiors is
	// refused with ErrHasChildren.
	DeleteMailbox(ctx context.Context, userID, mailboxID string) error
	SetSubscribed(ctx context.Context, userID, mailboxID string, subscribed bool) error
	Counters(ctx context.Context, userID, mailboxID string) (Counters, error)

	// Append adds a message, allocating UID and MODSEQ atomically, taking
	// references on its blobs, and charging the quota: ErrOverQuota if the
	// user's StorageUsed + Size would exceed QuotaLimit (when non-zero).
	Append(ctx context.Context, userID, mailboxID string, m *NewMessage) (*Message, error)
	// ListRefs returns UID, MODSEQ and flags of every message, ascending UID.
	ListRefs(ctx context.Context, userID, mailboxID string) ([]MessageRef, error)
	// Fetch returns the messages with UIDs in set, ascending UID; withMeta
	// includes Segments and Meta.
	Fetch(ctx context.Context, userID, mailboxID string, set UIDSet, withMeta bool) ([]Message, error)
	// GetMessage finds a message of the user by ID, with Segments and Meta.
	GetMessage(ctx context.Context, userID, messageID string) (*Message, error)
	// OpenMessage streams the raw message [off, off+n) (n < 0: to the end).
	OpenMessage(ctx context.Context, m *Message, off, n int64) (io.ReadCloser, error)
	// StoreFlags changes flags of the messages with UIDs in set (RFC 3501
	// STORE, RFC 7162 UNCHANGEDSINCE). All changed messages get one new MODSEQ.
	StoreFlags(ctx context.Context, userID, mailboxID string, set UIDSet, up FlagUpdate) (*FlagResult, error)
	// Copy copies messages into another mailbox of the same user, in UID
	// order; the copies get new UIDs and IDs (RFC 4315 COPYUID). Quota is charged.
	Copy(ctx context.Context, userID, srcMailboxID string, set UIDSet, dstMailboxID string) (*CopyResult, error)
	// Move moves messages atomically (RFC 6851): copy + expunge in one
	// transaction; the message keeps its ID.
	Move(ctx context.Context, userID, srcMailboxID string, set UIDSet, dstMailboxID string) (*CopyResult, error)
	// Expunge removes messages that have \Deleted set and whose UID is in set
	// (nil set: all with \Deleted). RFC 4315 UID EXPUNGE when set is given.
	Expunge(ctx context.Context, userID, mailboxID string, set UIDSet) (*ExpungeResult, error)
	// Delete removes messages by UID regardless of flags (API delete, POP3).
	Delete(ctx context.Context, userID, mailboxID string, set UIDSet) (*ExpungeResult, error)
	// FindByMessageID returns the UIDs (ascending) of messages in the mailbox
	// whose Message-ID (without angle brackets) is exactly messageID and whose
	// internal date is at or after since. Indexed: used by delivery's
	// duplicate suppression on every message.
	FindByMessageID(ctx context.Context, userID, mailboxID, messageID string, since time.Time) ([]uint32, error)
	// ChangedSince returns messages with MODSEQ > modseq, ascending UID (RFC 7162 CHANGEDSINCE).
	ChangedSince(ctx context.Context, userID, mailboxID string, modseq uint64) ([]MessageRef, error)
	// Search returns the UIDs matching c, ascending. TEXT/BODY use a full-text index.
	Search(ctx context.Context, userID, mailboxID string, c *Criteria) ([]uint32, error)

	// Changes returns journal entries of a user with Seq > afterSeq, in Seq
	// order, at most limit. mailboxID != "" restricts to one mailbox.
	Changes(ctx context.Context, userID, mailboxID string, afterSeq int64, limit int) ([]Change, error)
	// LastChange returns the highest journal Seq of a user (0 if none).
	LastChange(ctx context.Context, userID string) (int64, error)
	// PruneJournal removes entries older than the given age. A backend may
	// keep each mailbox's newest entry; LastChange does not move.
	PruneJournal(ctx context.Context, olderThan time.Duration) (int64, error)

	// CheckConsistency verifies invariants (UID/MODSEQ order, counters,
	// quota, blob references and blob presence) and reports problems.
	CheckConsistency(ctx context.Context) (*Check, error)
	Close() error
}
