package mongo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxCriteriaDepth bounds NOT/OR nesting.
const maxCriteriaDepth = 64

// projSearch is what Search evaluates.
var projSearch = bson.D{{Key: "uid", Value: 1}, {Key: "modseq", Value: 1}, {Key: "flags", Value: 1}, {Key: "idate", Value: 1},
	{Key: "sent", Value: 1}, {Key: "size", Value: 1}, {Key: "hdrs", Value: 1}, {Key: "text", Value: 1}}

// Search evaluates c (RFC 3501 §6.4.4, RFC 7162 §3.1.5) on the mailbox's
// messages in this process: the UID restriction is sent to the server, the
// rest is matched here with the SQLite backend's semantics
// (case-insensitive substring matches on decoded text, dates as UTC
// calendar days). Neither FerretDB ($text missing, filters not pushed
// down) nor a $text index (word, not substring, matches) would give those
// semantics; for large mailboxes this is a full scan of the mailbox.
func (s *Store) Search(ctx context.Context, userID, mailboxID string, c *store.Criteria) ([]uint32, error) {
	if _, err := s.getMailbox(ctx, userID, mailboxID); err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	if c == nil {
		c = &store.Criteria{}
	}
	if err := checkDepth(c, 0); err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	var set store.UIDSet
	if len(c.UID) > 0 {
		set = c.UID
	}
	ds, err := s.findMsgs(ctx, mailboxID, set, nil, projSearch)
	if err != nil {
		return nil, fmt.Errorf("mongo: search: %w", err)
	}
	var out []uint32
	for i := range ds {
		if match(&ds[i], c) {
			out = append(out, uint32(ds[i].UID))
		}
	}
	return out, nil
}

func checkDepth(c *store.Criteria, depth int) error {
	if depth > maxCriteriaDepth {
		return fmt.Errorf("criteria nested too deep: %w", store.ErrInvalidInput)
	}
	for i := range c.Not {
		if err := checkDepth(&c.Not[i], depth+1); err != nil {
			return err
		}
	}
	for i := range c.Or {
		for j := 0; j < 2; j++ {
			if err := checkDepth(&c.Or[i][j], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// match reports whether d satisfies every field of c.
func match(d *msgDoc, c *store.Criteria) bool {
	if len(c.UID) > 0 && !c.UID.Contains(uint32(d.UID)) {
		return false
	}
	for _, f := range c.Flag {
		if !hasStoredFlag(d.Flags, f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if hasStoredFlag(d.Flags, f) {
			return false
		}
	}
	for _, h := range c.Header {
		if !headerHas(d.Hdrs, h.Key, h.Value) {
			return false
		}
	}
	for _, t := range c.Body {
		if !containsFold(d.Text, t) {
			return false
		}
	}
	for _, t := range c.Text {
		if !containsFold(d.Hdrs, t) && !containsFold(d.Text, t) {
			return false
		}
	}
	idate := &d.IDate
	if !dates(idate, c.Before, c.On, c.Since) || !dates(d.Sent, c.SentBefore, c.SentOn, c.SentSince) {
		return false
	}
	if c.Larger > 0 && d.Size <= c.Larger || c.Smaller > 0 && d.Size >= c.Smaller {
		return false
	}
	if c.ModSeq > 0 && uint64(d.ModSeq) < c.ModSeq {
		return false
	}
	for i := range c.Not {
		if match(d, &c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !match(d, &c.Or[i][0]) && !match(d, &c.Or[i][1]) {
			return false
		}
	}
	return true
}

// hasStoredFlag: system flags and keywords compare case-insensitively;
// flags that are never stored (\Recent, session state) never match.
func hasStoredFlag(fs []string, f string) bool {
	if _, err := store.CanonicalFlag(f); err != nil {
		return false // never stored
	}
	return store.HasFlag(fs, f)
}

// headerHas reports whether a "Key: value" line of hdrs has the key
// (case-insensitive) and contains value.
func headerHas(hdrs, key, val string) bool {
	for hdrs != "" {
		line, rest, _ := strings.Cut(hdrs, "\n")
		hdrs = rest
		k, v, ok := strings.Cut(line, ": ")
		if ok && strings.EqualFold(k, key) && containsFold(v, val) {
			return true
		}
	}
	return false
}

// day returns the start of the calendar day of t (its Y-M-D) in UTC.
func day(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).UnixNano()
}

const dayNanos = int64(24 * time.Hour)

// dates applies BEFORE/ON/SINCE to v (nil: the message has no such date,
// which matches no date criterion).
func dates(v *int64, before, on, since time.Time) bool {
	if before.IsZero() && on.IsZero() && since.IsZero() {
		return true
	}
	if v == nil {
		return false
	}
	if !before.IsZero() && *v >= day(before) {
		return false
	}
	if !on.IsZero() && (*v < day(on) || *v >= day(on)+dayNanos) {
		return false
	}
	if !since.IsZero() && *v < day(since) {
		return false
	}
	return true
}
