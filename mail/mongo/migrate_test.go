package mongo_test

import (
	"context"
	"io/fs"
	"log/slog"
	"sync"
	"testing"

	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/mongo/mongotest"
	migs "github.com/eidermail/eider/migrations/mongo"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// Several instances starting at once on an empty database all succeed, the
// migrations are recorded once each, and the unique indexes exist.
func TestMigrationsConcurrentStarters(t *testing.T) {
	ctx := context.Background()
	c, err := mongo.Connect(ctx, mongotest.URI(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(ctx)
	db := c.Database(mongotest.Database())
	defer db.Drop(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := mongo.New(ctx, mustConnect(t), mongo.Config{Database: db.Name(), Logger: slog.New(slog.DiscardHandler)},
				mongo.NewGridFS(db, t.TempDir()))
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent start: %v", err)
	}
	files, _ := fs.Glob(migs.Files, "*.json")
	n, err := db.Collection("migrations").CountDocuments(ctx, bson.D{})
	if err != nil || n != int64(len(files)) {
		t.Fatalf("migrations recorded: %d (%v), want %d", n, err, len(files))
	}
	cur, err := db.Collection("messages").Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []bson.M
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ix := range idx {
		if ix["name"] == "mailbox_uid" && ix["unique"] == true {
			found = true
		}
	}
	if !found {
		t.Fatalf("no unique mailbox_uid index on messages: %v", idx)
	}
	// The unique index refuses a second message with the same UID.
	m := db.Collection("messages")
	if _, err := m.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "mbox", Value: "x"}, {Key: "uid", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}, {Key: "mbox", Value: "x"}, {Key: "uid", Value: 1}}); err == nil {
		t.Fatal("duplicate {mbox, uid} accepted")
	}
	// Opening again applies nothing and succeeds.
	s, err := mongo.New(ctx, mustConnect(t), mongo.Config{Database: db.Name(), Logger: slog.New(slog.DiscardHandler)}, mongo.NewGridFS(db, t.TempDir()))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if s.FerretDB() != mongotest.FerretDB() {
		t.Fatalf("FerretDB detection: store says %v, test setup says %v", s.FerretDB(), mongotest.FerretDB())
	}
	s.Close()
}
