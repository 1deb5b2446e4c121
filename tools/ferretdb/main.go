// Command ferretdb runs FerretDB v1.24.2 (a MongoDB wire-protocol server)
// over PostgreSQL, embedded through github.com/FerretDB/FerretDB/ferretdb.
// Eider's MongoDB backend tests use it as their peer when no MongoDB server
// is available. It lives in its own Go module so that FerretDB's
// dependencies stay out of Eider's go.mod.
//
// With -create-db it first creates the PostgreSQL database named in
// -postgresql-url (connecting to the "postgres" database of the same
// server), and with -drop-db it drops that database when it stops: a test
// run gets a fresh database and leaves nothing behind.
//
// It prints one line "ferretdb ready <mongodb-uri>" on stdout once it
// accepts connections, and stops on SIGINT/SIGTERM or when stdin closes
// (so it never outlives the test process that started it with -stdin-stop).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/jackc/pgx/v5"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to accept MongoDB wire-protocol connections on (port 0: any free port, named in the ready line)")
	pgURL := flag.String("postgresql-url", "postgres://postgres@127.0.0.1:5432/ferretdb", "PostgreSQL database that holds the data")
	createDB := flag.Bool("create-db", false, "create the PostgreSQL database first")
	dropDB := flag.Bool("drop-db", false, "drop the PostgreSQL database on exit")
	stdinStop := flag.Bool("stdin-stop", false, "stop when stdin reaches end of file")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stdinStop {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
	}
	if *createDB || *dropDB {
		if err := adminExec(ctx, *pgURL, "CREATE DATABASE"); *createDB && err != nil {
			log.Error("ferretdb: create database", "err", err)
			os.Exit(1)
		}
	}
	code := run(ctx, log, *listen, *pgURL)
	if *dropDB {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := adminExec(dctx, *pgURL, "DROP DATABASE IF EXISTS"); err != nil {
			log.Error("ferretdb: drop database", "err", err)
		}
		cancel()
	}
	os.Exit(code)
}

func run(ctx context.Context, log *slog.Logger, listen, pgURL string) int {
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: listen},
		Handler:       "postgresql",
		PostgreSQLURL: pgURL,
	})
	if err != nil {
		log.Error("ferretdb: configure", "err", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	// MongoDBURI waits until the listener accepts connections (and names
	// the real port when listen asked for port 0).
	go func() { fmt.Printf("ferretdb ready %s\n", f.MongoDBURI()) }()
	if err := <-done; err != nil && ctx.Err() == nil {
		log.Error("ferretdb: run", "err", err)
		return 1
	}
	return 0
}

// adminExec runs "<verb> <database of pgURL>" on the server's postgres
// database.
func adminExec(ctx context.Context, pgURL, verb string) error {
	u, err := url.Parse(pgURL)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.ContainsAny(name, `"`) {
		return fmt.Errorf("bad database name %q", name)
	}
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, verb+` "`+name+`"`)
	return err
}
