package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/eidermail/eider/certs"
	"github.com/eidermail/eider/config"
	"github.com/eidermail/eider/imap"
	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/lmtp"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/delivery"
	"github.com/eidermail/eider/mail/metrics"
	"github.com/eidermail/eider/mail/relay"
	"github.com/eidermail/eider/pop3"
	"github.com/eidermail/eider/server"
)

// serve runs every configured listener until SIGTERM or SIGINT, then stops
// accepting, lets in-flight work finish (bounded by ShutdownTimeout), and
// closes the store.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) (retErr error) {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	svc, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Store.Close()

	var srv *http.Server
	errc := make(chan error, 8)
	limits := newLoginLimits(cfg, svc) // shared by HTTP, IMAP and POP3
	if cfg.HTTP.Listen != "" {
		ln, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return fmt.Errorf("http listener: %w", err)
		}
		rl, err := newRelay(cfg)
		if err != nil {
			return err
		}
		h, err := server.New(svc, server.Options{
			Relay:              rl,
			Log:                log,
			AdminToken:         cfg.HTTP.AdminToken,
			TokenSecret:        cfg.HTTP.TokenSecret,
			DataDir:            cfg.DataDir,
			TokenTTL:           cfg.HTTP.TokenTTL,
			MaxLoginFailures:   cfg.HTTP.MaxLoginFailures,
			LoginFailureWindow: cfg.HTTP.LoginFailureWindow,
			LoginLimiter:       limits.logins,
			TicketNonces:       limits.nonces,
			SpamHeader:         cfg.Delivery.SpamHeader,
			SpamValue:          cfg.Delivery.SpamValue,
			Updates: server.UpdatesOptions{
				MaxPerUser:     cfg.HTTP.UpdatesMaxPerUser,
				QueueSize:      cfg.HTTP.UpdatesQueue,
				PingInterval:   cfg.HTTP.UpdatesPing,
				AllowedOrigins: server.ParseOrigins(cfg.HTTP.UpdatesOrigins),
			},
		})
		if err != nil {
			ln.Close()
			return fmt.Errorf("http: %w", err)
		}
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
		log.Info("listening", "proto", "http", "addr", ln.Addr().String())
	}
	ms, err := startMail(cfg, svc, limits, log, errc)
	if err != nil {
		ms.shutdown(context.Background())
		return err
	}
	go pruneJournal(ctx, svc.Store, cfg.Store.JournalRetention, log)
	registerIndexQueue(svc.Store)
	stopWebhooks := startWebhooks(ctx, svc, log)
	defer stopWebhooks() // before the store closes (deferred earlier)
	log.Info("eider started", "backend", cfg.Store.Backend, "db", cfg.Store.SQLitePath, "blobs", cfg.Store.BlobDir)

	select {
	case <-ctx.Done():
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("listener failed; shutting down", "err", err)
			defer func() { retErr = err }()
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ms.shutdown(sctx)
	}()
	if srv != nil {
		if err := srv.Shutdown(sctx); err != nil {
			log.Error("http shutdown", "err", err)
		}
	}
	wg.Wait()
	log.Info("stopped")
	return nil
}

type pruner interface {
	PruneJournal(ctx context.Context, olderThan time.Duration) (int64, error)
}

func pruneJournal(ctx context.Context, st pruner, keep time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := st.PruneJournal(ctx, keep)
		if err != nil && ctx.Err() == nil {
			log.Error("journal prune", "err", err)
		} else if n > 0 {
			log.Info("journal pruned", "entries", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mailServers are the delivery, POP3 and IMAP listeners.
type mailServers struct {
	log  *slog.Logger
	lmtp *lmtp.Server
	smtp *lmtp.Server
	pop3 *pop3.Server
	imap *imap.Server
}

// startMail starts LMTP, the SMTP maildrop, POP3 and IMAP (plain and
// implicit TLS) on their configured addresses; an empty address disables one. A
// listener that fails later reports on errc.
func startMail(cfg config.Config, svc *mail.Service, limits loginLimits, log *slog.Logger, errc chan<- error) (*mailServers, error) {
	m := &mailServers{log: log}
	var tlsCfg *tls.Config
	if cfg.POP3.Listen != "" || cfg.POP3.TLSListen != "" || cfg.SMTP.Listen != "" ||
		cfg.IMAP.Listen != "" || cfg.IMAP.TLSListen != "" {
		var err error
		if tlsCfg, err = certs.Load(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.DataDir, log); err != nil {
			return m, err
		}
	}
	d := delivery.New(svc, delivery.Options{
		SpamHeader:      cfg.Delivery.SpamHeader,
		SpamValue:       cfg.Delivery.SpamValue,
		DuplicateWindow: cfg.Delivery.DuplicateWindow,
		Log:             log,
	})
	o := lmtp.Options{
		Deliverer:       d,
		Hostname:        cfg.Delivery.Hostname,
		MaxMessageBytes: cfg.Limits.MaxMessageSize,
		MaxLineLength:   cfg.Limits.MaxLineLength,
		MaxConnections:  cfg.Limits.MaxConnections,
		Log:             log,
	}
	listen := func(proto, addr string, serve func(net.Listener) error) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", proto, err)
		}
		log.Info("listening", "proto", proto, "addr", ln.Addr().String())
		go func() {
			if err := serve(ln); err != nil {
				errc <- fmt.Errorf("%s: %w", proto, err)
			}
		}()
		return nil
	}
	if cfg.LMTP.Listen != "" {
		m.lmtp = lmtp.NewLMTP(o)
		if err := listen("lmtp", cfg.LMTP.Listen, m.lmtp.Serve); err != nil {
			return m, err
		}
	}
	if cfg.SMTP.Listen != "" {
		so := o
		so.TLS = tlsCfg
		m.smtp = lmtp.NewSMTP(so)
		if err := listen("smtp", cfg.SMTP.Listen, m.smtp.Serve); err != nil {
			return m, err
		}
	}
	if cfg.POP3.Listen != "" || cfg.POP3.TLSListen != "" {
		m.pop3 = pop3.New(pop3.Options{
			Service:                svc,
			TLS:                    tlsCfg,
			MaxMessages:            cfg.POP3.MaxMessages,
			DeleAction:             pop3.DeleAction(cfg.POP3.DeleAction),
			AllowPlaintext:         cfg.Auth.AllowPlaintext,
			AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback,
			MaxFailures:            cfg.Auth.MaxFailures,
			FailureDelay:           cfg.Auth.FailureDelay,
			MaxLineLength:          cfg.Limits.MaxCommandLength,
			MaxConnections:         cfg.Limits.MaxConnections,
			Hostname:               cfg.Delivery.Hostname,
			Locker:                 pop3Locker(svc), // shared through Redis in distributed mode
			LoginLimiter:           limits.logins,
			Log:                    log,
		})
		pop := m.pop3
		metrics.Default.GaugeFunc("eider_sessions", "Open sessions by protocol.", func() float64 { return float64(pop.Sessions()) }, "protocol", "pop3")
		if cfg.POP3.Listen != "" {
			if err := listen("pop3", cfg.POP3.Listen, m.pop3.Serve); err != nil {
				return m, err
			}
		}
		if cfg.POP3.TLSListen != "" {
			if err := listen("pop3s", cfg.POP3.TLSListen, m.pop3.ServeTLS); err != nil {
				return m, err
			}
		}
	}
	if cfg.IMAP.Listen != "" || cfg.IMAP.TLSListen != "" {
		m.imap = imap.NewServer(imap.Options{
			Service:                svc,
			TLS:                    tlsCfg,
			AllowPlaintext:         cfg.Auth.AllowPlaintext,
			AllowPlaintextLoopback: cfg.Auth.AllowPlaintextLoopback,
			MaxFailures:            cfg.Auth.MaxFailures,
			FailureDelay:           cfg.Auth.FailureDelay,
			Limits:                 wire.Limits{MaxLine: cfg.IMAP.MaxLineLength, MaxLiteral: cfg.Limits.MaxMessageSize},
			MaxConnections:         cfg.Limits.MaxConnections,
			MaxConnectionsPerIP:    cfg.IMAP.MaxConnectionsPerIP,
			MaxConnectionsPerUser:  cfg.IMAP.MaxConnectionsPerUser,
			Conns:                  limits.conns,
			LoginLimiter:           limits.logins,
			MaxBadCommands:         cfg.IMAP.MaxBadCommands,
			IdleTimeout:            cfg.IMAP.IdleTimeout,
			PreAuthTimeout:         cfg.IMAP.PreAuthTimeout,
			Hostname:               cfg.Delivery.Hostname,
			Log:                    log,
		})
		im := m.imap
		metrics.Default.GaugeFunc("eider_sessions", "Open sessions by protocol.", func() float64 { return float64(im.Sessions()) }, "protocol", "imap")
		if cfg.IMAP.Listen != "" {
			if err := listen("imap", cfg.IMAP.Listen, m.imap.Serve); err != nil {
				return m, err
			}
		}
		if cfg.IMAP.TLSListen != "" {
			if err := listen("imaps", cfg.IMAP.TLSListen, m.imap.ServeTLS); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// shutdown stops accepting everywhere at once, then lets deliveries, POP3
// updates and IMAP commands in progress finish until ctx ends.
func (m *mailServers) shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	stop := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				m.log.Error("shutdown", "proto", name, "err", err)
			}
		}()
	}
	if m.lmtp != nil {
		stop("lmtp", m.lmtp.Shutdown)
	}
	if m.smtp != nil {
		stop("smtp", m.smtp.Shutdown)
	}
	if m.pop3 != nil {
		stop("pop3", m.pop3.Shutdown)
	}
	if m.imap != nil {
		stop("imap", m.imap.Shutdown)
	}
	wg.Wait()
}

// newRelay builds the outbound SMTP relay of submitted mail from
// submit.relay; nil when no address is configured.
func newRelay(cfg config.Config) (*relay.Relay, error) {
	r := cfg.Submit.Relay
	if r.Addr == "" {
		return nil, nil
	}
	helo := r.HeloName
	if helo == "" {
		helo = cfg.Delivery.Hostname
	}
	if helo == "" {
		helo, _ = os.Hostname()
	}
	rl, err := relay.New(relay.Options{Addr: r.Addr, TLS: r.TLS, Username: r.Username, Password: r.Password,
		HeloName: helo, Timeout: r.Timeout, AllowPlaintext: r.AllowPlaintext, InsecureSkipVerify: r.InsecureSkipVerify})
	if err != nil {
		return nil, fmt.Errorf("submit.relay: %w", err)
	}
	return rl, nil
}

// registerIndexQueue adds eider_index_queue to GET /metrics for a store with
// a background full-text indexer (SQLite): the messages it has still to
// index, which operators watch for indexing falling behind delivery.
func registerIndexQueue(st any) {
	q, ok := st.(interface {
		IndexQueue(context.Context) (int64, error)
	})
	if !ok {
		return
	}
	metrics.Default.GaugeFunc("eider_index_queue", "Messages stored but not yet in the full-text index.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := q.IndexQueue(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
}
