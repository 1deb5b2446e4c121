package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/eidermail/eider/config"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/sqlite"
)

func setup(path string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, nil, err
	}
	return cfg, newLogger(stderr, cfg.Log.Level, cfg.Log.Format), nil
}

// open builds the mail core on the configured backend: the embedded SQLite
// store with a file blob store and the in-process change bus.
func open(ctx context.Context, cfg config.Config, log *slog.Logger) (*mail.Service, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	blobs, err := blob.NewFileStore(cfg.Store.BlobDir)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.Store.SQLitePath, Sync: cfg.Store.Sync}, blobs)
	if err != nil {
		return nil, err
	}
	lim := mimetree.DefaultLimits()
	lim.MaxSize = cfg.Limits.MaxMessageSize
	lim.MaxHeader = cfg.Limits.MaxHeaderSize
	lim.MaxDepth = cfg.Limits.MaxMIMEDepth
	lim.MaxParts = cfg.Limits.MaxParts
	lim.InlineMax = cfg.Limits.InlineMax
	return &mail.Service{
		Store:    st,
		Blobs:    blobs,
		Bus:      bus.NewLocal(),
		Limits:   lim,
		Password: password.Params{Time: cfg.Password.Time, Memory: cfg.Password.Memory, Threads: cfg.Password.Threads},
		Log:      log,
	}, nil
}
