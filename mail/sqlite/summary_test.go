package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// TestMigrateListSummary opens a store written with schema version 3 (no
// summary column): migration 4 fills the summary of each message from its
// Meta — the address lists, with the keys of the empty ones left out as
// the Go encoder does — and leaves it NULL where Meta is missing or not
// JSON, without failing the migration.
func TestMigrateListSummary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "v3.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, 3); err != nil {
		t.Fatal(err)
	}
	raw := "From: Ann <ann@example.com>\r\nTo: Jan <jan@example.com>, \"Zoë, X\" <z@example.com>\r\nSubject: hi\r\n\r\nbody <b>\"quoted\"</b>\r\n"
	p, err := mimetree.Parse(ctx, strings.NewReader(raw), nil, mimetree.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	meta, err := json.Marshal(p.Meta)
	if err != nil {
		t.Fatal(err)
	}
	segs := encodeSegments([]blob.Segment{{Inline: []byte(raw), Size: int64(len(raw))}})
	n := int64(len(raw))
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO users(uno, id, username, username_key, storage_used, created) VALUES (1, 'u1', 'old', 'old', ?, 0)`, 3*n)
	exec(`INSERT INTO mailboxes(mbx, id, uno, name, uid_validity, uid_next, highest_modseq, created, total, unseen, size)
		VALUES (1, 'm1', 1, 'INBOX', 1, 4, 3, 0, 3, 3, ?)`, 3*n)
	for i, m := range []any{meta, nil, []byte("{not json")} {
		exec(`INSERT INTO messages(mno, id, uno, mbx, uid, modseq, internal_date, size, thread_id, subject)
			VALUES (?, ?, 1, 1, ?, ?, 0, ?, 't1', 'hi')`, i+1, "x"+string(rune('1'+i)), i+1, i+1, n)
		exec(`INSERT INTO message_data(mno, segments, meta) VALUES (?, ?, ?)`, i+1, segs, m)
	}
	db.Close()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.Fetch(ctx, "u1", "m1", store.UIDSet{{Start: 1, Stop: 3}}, false)
	if err != nil || len(ms) != 3 {
		t.Fatalf("Fetch = %d messages, %v", len(ms), err)
	}
	type addrs struct {
		From []mimetree.Address `json:"from,omitempty"`
		To   []mimetree.Address `json:"to,omitempty"`
		Cc   []mimetree.Address `json:"cc,omitempty"`
		Bcc  []mimetree.Address `json:"bcc,omitempty"`
	}
	var got addrs
	if err := json.Unmarshal(ms[0].Summary, &got); err != nil {
		t.Fatalf("summary %q: %v", ms[0].Summary, err)
	}
	want := addrs{From: p.Meta.From, To: p.Meta.To}
	if !reflect.DeepEqual(got, want) || len(want.To) != 2 {
		t.Fatalf("summary %q decodes to %+v, want %+v", ms[0].Summary, got, want)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(ms[0].Summary, &keys); err != nil || len(keys) != 2 || keys["from"] == nil || keys["to"] == nil {
		t.Fatalf("summary %q has keys %v, want from and to only", ms[0].Summary, keys)
	}
	if ms[1].Summary != nil || ms[2].Summary != nil {
		t.Fatalf("summaries without Meta / with bad Meta = %q, %q, want none", ms[1].Summary, ms[2].Summary)
	}
}
