package sqlite

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/migrations"
)

func TestOpenConfig(t *testing.T) {
	ctx := context.Background()
	bs, _ := blob.NewFileStore(t.TempDir())
	if _, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "x.db"), Sync: "fast"}, bs); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("Open(Sync: fast) err = %v, want ErrInvalidInput", err)
	}
	if _, err := Open(ctx, Config{}, bs); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("Open(no path) err = %v", err)
	}
	s, _, _ := openTemp(t, "normal")
	var mode string
	if err := s.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestReopen checks that data and the schema version persist and that
// migrations are not applied twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bs, _ := blob.NewFileStore(filepath.Join(dir, "blobs"))
	path := filepath.Join(dir, "e.db")
	s, err := Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, store.NewUser{Username: "re", Address: "re@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	body := []byte("Subject: x\r\n\r\npersisted\r\n")
	m, err := s.Append(ctx, u.ID, mb.ID, &store.NewMessage{Size: int64(len(body)), Segments: []blob.Segment{{Inline: body, Size: int64(len(body))}}, Text: "persisted"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, Config{Path: path}, bs)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	files, err := fs.ReadDir(migrations.SQLite, "sqlite")
	if err != nil {
		t.Fatal(err)
	}
	var versions int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&versions); err != nil || versions != len(files) {
		t.Fatalf("schema_version rows = %d, %v; want %d (one per migration)", versions, err, len(files))
	}
	g, err := s.GetMessage(ctx, u.ID, m.ID)
	if err != nil || g.UID != 1 {
		t.Fatalf("message after reopen: %v %v", g, err)
	}
	uids, err := s.Search(ctx, u.ID, mb.ID, &store.Criteria{Body: []string{"PERSIST"}})
	if err != nil || len(uids) != 1 {
		t.Fatalf("search after reopen = %v, %v", uids, err)
	}
	mb2, _ := s.CreateMailbox(ctx, u.ID, "new", "")
	if mb2.UIDValidity <= mb.UIDValidity {
		t.Fatalf("UIDValidity after reopen %d not above %d", mb2.UIDValidity, mb.UIDValidity)
	}
}

func TestSegmentCodec(t *testing.T) {
	segs := []blob.Segment{
		{Inline: []byte("head\r\n"), Size: 6},
		{Hash: strings.Repeat("ab", 32), Size: 123456},
		{Hash: "not-a-sha256", Size: 7},
		{Inline: []byte{}, Size: 0},
	}
	got, err := decodeSegments(encodeSegments(segs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(segs) {
		t.Fatalf("decoded %d segments", len(got))
	}
	for i := range segs {
		if got[i].Hash != segs[i].Hash || got[i].Size != segs[i].Size || !bytes.Equal(got[i].Inline, segs[i].Inline) {
			t.Fatalf("segment %d: %+v != %+v", i, got[i], segs[i])
		}
	}
	for _, bad := range [][]byte{nil, {2}, {1, 0, 5, 'a'}, {1, 1, 1}, {1, 9, 0}} {
		if _, err := decodeSegments(bad); err == nil {
			t.Fatalf("decodeSegments(%v) accepted corrupt input", bad)
		}
	}
}

// TestSearchUsesFTSIndex checks the query plan: BODY/TEXT/HEADER strings
// with indexed words are answered through the FTS5 index (MATCH), not a
// scan.
func TestSearchUsesFTSIndex(t *testing.T) {
	s, _, _ := openTemp(t, "")
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "plan"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.FindMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	m := benchMessage(newTextGen(1), 1, 500)
	m.Subject = "Quarterly report"
	m.Headers = append(m.Headers, store.Header{Key: "Subject", Value: m.Subject})
	m.Text = "The quarterly report: budget review."
	if _, err := s.Append(ctx, u.ID, mb.ID, m); err != nil {
		t.Fatal(err)
	}
	indexNow(t, s) // the plans read the word list
	for _, c := range []store.Criteria{
		{Body: []string{"budget"}},
		{Body: []string{"udge"}},
		{Text: []string{"quarterly report"}},
		{Header: []store.Header{{Key: "Subject", Value: "report"}}},
		{Not: []store.Criteria{{Body: []string{"budget"}}}, Flag: []string{store.FlagSeen}},
	} {
		tx, err := s.r.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		b := condBuilder{ctx: ctx, tx: tx}
		cond, err := b.criteria(&c, 0)
		tx.Rollback()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.r.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT m.uid FROM messages m WHERE m.mbx = ? AND `+cond+` ORDER BY m.uid`,
			append([]any{int64(1)}, b.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			rows.Scan(&id, &parent, &unused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		ok := false
		for _, p := range plan {
			if strings.Contains(p, "fts VIRTUAL TABLE INDEX") {
				_, idx, _ := strings.Cut(p, ":")
				ok = strings.Contains(idx, "M")
			}
		}
		if !ok || strings.Contains(all, "SCAN m\n") && !strings.Contains(all, "USING") {
			t.Fatalf("criteria %+v: plan does not use the FTS index:\n%s", c, all)
		}
	}
}

// Delivery's duplicate check runs on every message: it must be an index
// lookup, not a scan of the mailbox (which made delivery slow down as the
// mailbox grew).
func TestFindByMessageIDUsesIndex(t *testing.T) {
	s, _, _ := openTemp(t, "")
	rows, err := s.r.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+findByMessageIDQuery, 1, "x@y", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		plan = append(plan, detail)
	}
	if all := strings.Join(plan, "\n"); !strings.Contains(all, "USING INDEX messages_msgid (uno=? AND message_id=?)") {
		t.Fatalf("FindByMessageID plan does not look up messages_msgid:\n%s", all)
	}
}
