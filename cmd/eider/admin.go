package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/eidermail/eider/config"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/store"
)

func withService(ctx context.Context, cfg config.Config, log *slog.Logger, fn func(*mail.Service) error) error {
	svc, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Store.Close()
	return fn(svc)
}

func userCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError("user: want 'user add' or 'user list'")
	}
	switch args[0] {
	case "add":
		if len(args) < 3 || len(args) > 4 {
			return usageError("user add USERNAME PASSWORD [ADDRESS]")
		}
		addr := ""
		if len(args) == 4 {
			addr = args[3]
		}
		return withService(ctx, cfg, log, func(svc *mail.Service) error {
			u, err := svc.CreateUser(ctx, args[1], args[2], addr, 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "created user %s (id %s)\n", u.Username, u.ID)
			return nil
		})
	case "list":
		return withService(ctx, cfg, log, func(svc *mail.Service) error {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSERNAME\tUSED\tQUOTA\tDISABLED")
			after := ""
			for {
				us, err := svc.Store.ListUsers(ctx, after, 500)
				if err != nil {
					return err
				}
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%v\n", u.ID, u.Username, u.StorageUsed, u.QuotaLimit, u.Disabled)
				}
				if len(us) < 500 {
					return tw.Flush()
				}
				after = us[len(us)-1].ID
			}
		})
	}
	return usageError(fmt.Sprintf("user: unknown subcommand %q", args[0]))
}

func findMailbox(ctx context.Context, svc *mail.Service, login, name string) (*store.User, *store.Mailbox, error) {
	u, err := svc.Store.FindUser(ctx, login)
	if err != nil {
		return nil, nil, fmt.Errorf("user %q: %w", login, err)
	}
	mb, err := svc.Store.FindMailbox(ctx, u.ID, name)
	if err != nil {
		return nil, nil, fmt.Errorf("mailbox %q: %w", name, err)
	}
	return u, mb, nil
}

func appendCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdin io.Reader, out io.Writer) error {
	if len(args) < 2 || len(args) > 3 {
		return usageError("append USER MAILBOX [FILE]")
	}
	r := stdin
	if len(args) == 3 {
		f, err := os.Open(args[2])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	return withService(ctx, cfg, log, func(svc *mail.Service) error {
		u, mb, err := findMailbox(ctx, svc, args[0], args[1])
		if err != nil {
			return err
		}
		m, err := svc.Append(ctx, u.ID, mb.ID, r, nil, time.Time{})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "stored uid %d in %s (id %s, %d bytes)\n", m.UID, mb.Name, m.ID, m.Size)
		return nil
	})
}

func catCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) != 3 {
		return usageError("cat USER MAILBOX UID")
	}
	uid, err := strconv.ParseUint(args[2], 10, 32)
	if err != nil || uid == 0 {
		return usageError("cat: UID must be a positive number")
	}
	return withService(ctx, cfg, log, func(svc *mail.Service) error {
		u, mb, err := findMailbox(ctx, svc, args[0], args[1])
		if err != nil {
			return err
		}
		ms, err := svc.Store.Fetch(ctx, u.ID, mb.ID, store.UIDSet{{Start: uint32(uid), Stop: uint32(uid)}}, true)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return fmt.Errorf("uid %d: %w", uid, store.ErrNotFound)
		}
		rc, err := svc.Store.OpenMessage(ctx, &ms[0], 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(out, rc)
		return err
	})
}

func checkCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) != 0 {
		return usageError("check takes no arguments")
	}
	return withService(ctx, cfg, log, func(svc *mail.Service) error {
		c, err := svc.Store.CheckConsistency(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d mailboxes, %d messages, %d blobs\n", c.Mailboxes, c.Messages, c.Blobs)
		for _, p := range c.Problems {
			fmt.Fprintln(out, "problem:", p)
		}
		if len(c.Problems) > 0 {
			return fmt.Errorf("%d consistency problems", len(c.Problems))
		}
		fmt.Fprintln(out, "consistent")
		return nil
	})
}

func printEnv(out io.Writer) error {
	for _, n := range config.EnvNames() {
		fmt.Fprintln(out, n)
	}
	return nil
}
