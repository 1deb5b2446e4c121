// Command eider is the one Eider binary: `eider serve` runs every listener;
// the other subcommands administer the configured store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

const usage = `usage: eider [-config FILE] COMMAND [ARGS]

Commands:
  serve                                 run every listener
  user add USERNAME PASSWORD [ADDRESS]  create a user (and its main address)
  user list                             list users
  append USER MAILBOX [FILE]            store a raw message (stdin without FILE)
  push RCPT [FILE]                      send a message (stdin without FILE) through
                                        the running server's SMTP maildrop
  cat USER MAILBOX UID                  print a stored message byte for byte
  check                                 verify the store's consistency
  config env                            list the environment variables read

USER is a username or any address of the user.
Configuration: -config FILE or EIDER_CONFIG, then EIDER_* variables
(see docs/configuration.md).
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eider:", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eider", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fs.String("config", os.Getenv("EIDER_CONFIG"), "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	args = fs.Args()
	if len(args) == 0 {
		return usageError("no command")
	}
	cmd, rest := args[0], args[1:]
	if cmd == "config" {
		if len(rest) != 1 || rest[0] != "env" {
			return usageError("config: want 'config env'")
		}
		return printEnv(stdout)
	}
	cfg, log, err := setup(*cfgPath, stderr)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		if len(rest) != 0 {
			return usageError("serve takes no arguments")
		}
		return serve(ctx, cfg, log)
	case "user":
		return userCmd(ctx, cfg, log, rest, stdout)
	case "append":
		return appendCmd(ctx, cfg, log, rest, stdin, stdout)
	case "cat":
		return catCmd(ctx, cfg, log, rest, stdout)
	case "push":
		return pushCmd(ctx, cfg, rest, stdin, stdout)
	case "check":
		return checkCmd(ctx, cfg, log, rest, stdout)
	}
	return usageError(fmt.Sprintf("unknown command %q", strings.Join(args[:1], "")))
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
