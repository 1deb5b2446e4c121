package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/eidermail/eider/config"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/blob"
	"github.com/eidermail/eider/mail/bus"
	"github.com/eidermail/eider/mail/cluster"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/mongo"
	"github.com/eidermail/eider/mail/password"
	"github.com/eidermail/eider/mail/sqlite"
	"github.com/eidermail/eider/mail/throttle"
	"github.com/eidermail/eider/pop3"
	"github.com/eidermail/eider/server"
	"github.com/redis/go-redis/v9"
)

func setup(path string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, nil, err
	}
	return cfg, newLogger(stderr, cfg.Log.Level, cfg.Log.Format), nil
}

// open builds the mail core on the configured backend: the embedded SQLite
// store with a file blob store and the in-process change bus, or (store
// backend "mongodb") MongoDB with GridFS blobs and, when redis.url is set,
// the Redis change bus and shared locks.
func open(ctx context.Context, cfg config.Config, log *slog.Logger) (*mail.Service, error) {
	lim := mimetree.DefaultLimits()
	lim.MaxSize = cfg.Limits.MaxMessageSize
	lim.MaxHeader = cfg.Limits.MaxHeaderSize
	lim.MaxDepth = cfg.Limits.MaxMIMEDepth
	lim.MaxParts = cfg.Limits.MaxParts
	lim.InlineMax = cfg.Limits.InlineMax
	svc := &mail.Service{
		Limits:    lim,
		Password:  password.Params{Time: cfg.Password.Time, Memory: cfg.Password.Memory, Threads: cfg.Password.Threads},
		AuthCache: mail.NewAuthCache(cfg.Auth.CacheTTL, cfg.Auth.CacheMaxEntries),
		Log:       log,
	}
	if cfg.Store.Backend == "mongodb" {
		if err := openDistributed(ctx, cfg, log, svc); err != nil {
			return nil, err
		}
		return svc, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	blobs, err := blob.NewFileStore(cfg.Store.BlobDir)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.Store.SQLitePath, Sync: cfg.Store.Sync,
		MaxWordExpansion: cfg.Store.SearchMaxWordExpansion, RefsCache: cmp.Or(cfg.Store.RefsCache, -1)}, blobs)
	if err != nil {
		return nil, err
	}
	svc.Store, svc.Blobs, svc.Bus = st, blobs, bus.NewLocal()
	return svc, nil
}

// redisBus is the Redis change bus with the shared state created on the
// same Redis: serve hands its POP3 lock to the POP3 server.
type redisBus struct {
	*bus.Redis
	cluster *cluster.Cluster
	rdb     *redis.Client
}

// Close stops the bus and closes its Redis client.
func (r redisBus) Close() error {
	return errors.Join(r.Redis.Close(), r.rdb.Close())
}

// pop3Locker returns the POP3 maildrop lock shared through Redis, or nil
// (the POP3 server's in-process lock) without Redis.
func pop3Locker(svc *mail.Service) pop3.Locker {
	if rb, ok := svc.Bus.(redisBus); ok {
		return rb.cluster.POP3Locker()
	}
	return nil
}

// loginLimits are the limits the front-ends share: one failed-login count
// per client address for HTTP, IMAP and POP3 together, and the per-user
// IMAP session count.
type loginLimits struct {
	logins throttle.LoginLimiter
	conns  throttle.ConnCounter // nil: the IMAP server's in-process count
	nonces server.NonceStore    // nil: update-stream tickets single-use per instance
}

// newLoginLimits returns the Redis limits of mail/cluster when the bus is
// Redis's (every instance sees the same counts), else in-process ones.
// http.max_login_failures within http.login_failure_window block an
// address on every protocol.
func newLoginLimits(cfg config.Config, svc *mail.Service) loginLimits {
	if rb, ok := svc.Bus.(redisBus); ok {
		return loginLimits{
			logins: rb.cluster.LoginLimiter(cfg.HTTP.MaxLoginFailures, cfg.HTTP.LoginFailureWindow),
			conns:  rb.cluster.Connections(0),
			nonces: rb.cluster.Nonces(),
		}
	}
	return loginLimits{logins: throttle.NewLocalLimiter(cfg.HTTP.MaxLoginFailures, cfg.HTTP.LoginFailureWindow, nil)}
}

// openDistributed fills svc with the MongoDB store, GridFS blobs, and the
// Redis bus (or, without redis.url, the in-process bus: one instance
// only). The store's per-user write lock is kept in the database itself
// (mongo.DBLocker), so writes go on while Redis is away.
func openDistributed(ctx context.Context, cfg config.Config, log *slog.Logger, svc *mail.Service) error {
	if cfg.Redis.URL != "" {
		opts, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return fmt.Errorf("redis.url: %w", err)
		}
		rdb := redis.NewClient(opts)
		if err := rdb.Ping(ctx).Err(); err != nil {
			rdb.Close()
			return fmt.Errorf("redis %s: %w", opts.Addr, err)
		}
		cl := cluster.New(rdb, cluster.Options{Prefix: cfg.Redis.Prefix, Logger: log})
		svc.Bus = redisBus{Redis: bus.NewRedis(rdb, bus.RedisOptions{Prefix: cfg.Redis.Prefix + "beacon:", Logger: log}), cluster: cl, rdb: rdb}
	} else {
		log.Warn("store.backend mongodb without redis.url: in-process change bus and limits, run a single instance (other instances would not see this one's changes live)")
		svc.Bus = bus.NewLocal()
	}
	c, err := mongo.Connect(ctx, cfg.Store.MongoURI)
	if err != nil {
		svc.Bus.Close()
		return err
	}
	blobs := mongo.NewGridFS(c.Database(cfg.Store.MongoDatabase), "")
	locker := mongo.NewDBLocker(c.Database(cfg.Store.MongoDatabase), log)
	st, err := mongo.New(ctx, c, mongo.Config{Database: cfg.Store.MongoDatabase, Locker: locker, Logger: log,
		JournalRetention: cfg.Store.JournalRetention}, blobs)
	if err != nil {
		c.Disconnect(context.WithoutCancel(ctx))
		svc.Bus.Close()
		return err
	}
	svc.Store, svc.Blobs = st, blobs
	return nil
}
