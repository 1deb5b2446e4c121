package mongo_test

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/mongo/mongotest"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/mail/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	mongotest.Stop()
	os.Exit(code)
}

// open opens a store on a fresh database of the test server, dropped at
// cleanup.
func open(t *testing.T) *mongo.Store {
	t.Helper()
	ctx := context.Background()
	uri := mongotest.URI(t)
	c, err := mongo.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	db := c.Database(mongotest.Database())
	gfs := mongo.NewGridFS(db, t.TempDir())
	s, err := mongo.New(ctx, c, mongo.Config{Database: db.Name(), Logger: slog.New(slog.DiscardHandler)}, gfs)
	if err != nil {
		c.Disconnect(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			t.Errorf("dropping %s: %v", db.Name(), err)
		}
		s.Close()
	})
	return s
}

// ferretPerWriter is the Concurrency test's size on FerretDB: 8 writers ×
// 20 appends (the full 8 × 500 runs against MONGO_URI). FerretDB scans
// collections for most filters, so its appends slow down as the test
// database grows: measured on the shared 2-core test machine, 8 × 20 takes
// about 10 s and 8 × 60 (SQLite's -short size) about 80 s.
const ferretPerWriter = 20

func TestConformance(t *testing.T) {
	var opts storetest.Options
	if mongotest.FerretDB() {
		opts.PerWriter = ferretPerWriter
		t.Logf("FerretDB: Concurrency runs %d×%d appends (MONGO_URI unset)", storetest.Writers, ferretPerWriter)
	}
	storetest.RunWith(t, func(t *testing.T) (store.Store, blob.Store) {
		s := open(t)
		return s, mongo.NewGridFS(s.Database(), t.TempDir())
	}, opts)
}
