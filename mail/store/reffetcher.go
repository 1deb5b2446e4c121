package store

import "context"

// RefFetcher is implemented by stores that can return just the refs (UID,
// MODSEQ, ID, flags) of the messages in a UID set more cheaply than Fetch
// without Meta, which reads whole message records. Front-ends that need
// only flags (IMAP FETCH FLAGS of a few messages) use it when the store
// has it.
type RefFetcher interface {
	// FetchRefs returns the refs of the messages with UIDs in set (nil:
	// none), ascending UID. Refs with equal flags may share one Flags
	// slice: callers must not modify Flags in place.
	FetchRefs(ctx context.Context, userID, mailboxID string, set UIDSet) ([]MessageRef, error)
}
