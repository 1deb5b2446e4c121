package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/store"
	"github.com/eidermail/eider/mail/store/storetest"
)

// openTemp opens a fresh store and file blob store in a temp dir.
func openTemp(t testing.TB, sync string) (*Store, *blob.FileStore, string) {
	t.Helper()
	dir := t.TempDir()
	bs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Config{Path: filepath.Join(dir, "eider.db"), Sync: sync}, bs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, bs, dir
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, blob.Store) {
		s, bs, _ := openTemp(t, "")
		return s, bs
	})
}
