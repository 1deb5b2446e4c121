package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/eidermail/eider/mail/blob"
)

// TestMigrateJournalSource opens a store written with schema version 4:
// migration 5 keeps the journal readable (an old entry reads as an append,
// no source) and adds the webhook tables.
func TestMigrateJournalSource(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "v4.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(ctx, db, 4); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users(uno, id, username, username_key, storage_used, created) VALUES (1, 'u1', 'old', 'old', 0, 0)`,
		`INSERT INTO journal(uno, mailbox_id, kind, modseq, uid, message_id, flags, time) VALUES (1, 'm1', 'exists', 5, 3, 'x1', '\Seen', 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chs, err := s.Changes(ctx, "u1", "", 0, 0)
	if err != nil || len(chs) != 1 {
		t.Fatalf("Changes = %+v, %v", chs, err)
	}
	if c := chs[0]; c.UID != 3 || c.MessageID != "x1" || c.SourceMailboxID != "" || c.SourceUID != 0 || c.Moved {
		t.Fatalf("old entry %+v", c)
	}
	if _, ok, err := s.WebhookCursor(ctx, "w", "u1"); err != nil || ok {
		t.Fatalf("webhook tables after migration: %v %v", ok, err)
	}
}
