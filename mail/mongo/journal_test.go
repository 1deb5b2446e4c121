package mongo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/mongo/mongotest"
	"github.com/eidermail/eider/mail/store"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestJournalExpiry: every journal entry carries its expiry (now +
// JournalRetention), the "expire" TTL index acts on it on MongoDB (a plain
// index on FerretDB, which has no TTL), and once every entry of a user has
// gone, LastChange still reports the newest Seq and new entries continue
// above it.
func TestJournalExpiry(t *testing.T) {
	ctx := context.Background()
	a := open(t)
	s, err := mongo.New(ctx, mustConnect(t), mongo.Config{Database: a.Database().Name(), JournalRetention: time.Hour,
		Logger: slog.New(slog.DiscardHandler)}, mongo.NewGridFS(a.Database(), t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	u, err := s.CreateUser(ctx, store.NewUser{Username: "exp", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.FindMailbox(ctx, u.ID, "INBOX")
	body := []byte("Subject: x\r\n\r\nx\r\n")
	if _, err := s.Append(ctx, u.ID, mb.ID, &store.NewMessage{Size: int64(len(body)), Segments: []blob.Segment{{Inline: body, Size: int64(len(body))}}}); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Exp bson.DateTime `bson:"exp"`
	}
	if err := s.Database().Collection("journal").FindOne(ctx, bson.D{{Key: "user", Value: u.ID}, {Key: "kind", Value: string(store.ChangeExists)}}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if left := time.Until(d.Exp.Time()); left < 59*time.Minute || left > 61*time.Minute {
		t.Fatalf("journal entry expires in %v, want the 1h retention", left)
	}
	cur, err := s.Database().Collection("journal").Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []bson.M
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ix := range idx {
		if ix["name"] != "expire" {
			continue
		}
		found = true
		ttl, hasTTL := ix["expireAfterSeconds"]
		if mongotest.FerretDB() && hasTTL {
			t.Fatalf("FerretDB index with a TTL: %v", ix)
		}
		if !mongotest.FerretDB() && (!hasTTL || ttl != int32(0)) {
			t.Fatalf("journal index expire %v: want expireAfterSeconds 0", ix)
		}
	}
	if !found {
		t.Fatalf("no journal index \"expire\" among %v", idx)
	}

	// Every entry expires (as the TTL monitor or the prune deletes them).
	last, err := s.LastChange(ctx, u.ID)
	if err != nil || last == 0 {
		t.Fatalf("LastChange %d %v", last, err)
	}
	if _, err := s.PruneJournal(ctx, -time.Second); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Database().Collection("journal").CountDocuments(ctx, bson.D{{Key: "user", Value: u.ID}}); n != 0 {
		t.Fatalf("%d entries left after pruning everything", n)
	}
	if l, err := s.LastChange(ctx, u.ID); err != nil || l != last {
		t.Fatalf("LastChange after expiry %d %v, want %d", l, err, last)
	}
	if _, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 1, Stop: 1}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	chs, err := s.Changes(ctx, u.ID, "", last, 0)
	if err != nil || len(chs) != 1 || chs[0].Seq <= last || chs[0].Kind != store.ChangeFlags {
		t.Fatalf("after expiry: Changes(after %d) = %+v %v, want one flag change above it", last, chs, err)
	}
	if l, _ := s.LastChange(ctx, u.ID); l != chs[0].Seq {
		t.Fatalf("LastChange %d, want %d", l, chs[0].Seq)
	}
}
