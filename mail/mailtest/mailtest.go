// Package mailtest builds a real mail core for tests: the SQLite store and
// the file blob store in a temporary directory, the in-process bus, and cheap
// password hashing. It is imported only by _test.go files.
package mailtest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/sqlite"
)

// NewService returns a mail core on a fresh store in dir (t.TempDir() when
// dir is ""), with sync "normal" unless sync is given, closed at the end of
// the test.
func NewService(t testing.TB, dir, sync string, lim mimetree.Limits) *mail.Service {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if sync == "" {
		sync = "normal"
	}
	blobs, err := blob.NewFileStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "eider.db"), Sync: sync}, blobs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &mail.Service{Store: st, Blobs: blobs, Bus: bus.NewLocal(), Limits: lim, Password: password.Fast}
}

// LogTap returns a logger that passes every message to ch (dropping it when
// ch is full), so tests wait for events instead of sleeping.
func LogTap(ch chan string) *slog.Logger { return slog.New(logTap{ch}) }

type logTap struct{ ch chan string }

func (h logTap) Enabled(context.Context, slog.Level) bool { return true }
func (h logTap) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r.Message:
	default:
	}
	return nil
}
func (h logTap) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logTap) WithGroup(string) slog.Handler      { return h }
