package imap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

func init() {
	register("CREATE", handler{fn: (*Session).create, states: inAuth})
	register("DELETE", handler{fn: (*Session).deleteCmd, states: inAuth})
	register("RENAME", handler{fn: (*Session).rename, states: inAuth})
	register("SUBSCRIBE", handler{fn: (*Session).subscribeCmd, states: inAuth})
	register("UNSUBSCRIBE", handler{fn: (*Session).subscribeCmd, states: inAuth})
}

// createParents creates the missing superiors of name (RFC 3501 §6.3.3:
// "the server SHOULD create any superior hierarchical names").
func (s *Session) createParents(name string) error {
	parts := strings.Split(name, store.Separator)
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], store.Separator)
		_, err := s.svc.CreateMailbox(s.ctx, s.user.ID, p, "")
		if err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return nil
}

// create: CREATE (RFC 3501 §6.3.3) with USE (RFC 6154 §3).
func (s *Session) create(cmd *wire.Command) error {
	a := cmd.Args.(*wire.CreateArgs)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	// A trailing delimiter only declares the intent to create inferiors.
	name = strings.TrimSuffix(name, store.Separator)
	if name == "" || strings.EqualFold(name, "INBOX") {
		return no(wire.CodeAlreadyExists, "mailbox exists")
	}
	use := ""
	switch len(a.SpecialUse) {
	case 0:
	case 1:
		use = a.SpecialUse[0]
	default:
		return no(wire.CodeUseAttr, "only one special use per mailbox")
	}
	if err := s.createParents(name); err != nil {
		return s.mailboxChangeErr(err, "create %q", name)
	}
	_, err = s.svc.CreateMailbox(s.ctx, s.user.ID, name, use)
	if use != "" && errors.Is(err, store.ErrInvalidInput) {
		return no(wire.CodeUseAttr, "unsupported special use %s", use)
	}
	if use != "" && errors.Is(err, store.ErrExists) {
		if _, ferr := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name); ferr != nil {
			return no(wire.CodeUseAttr, "another mailbox has special use %s", use)
		}
	}
	if err != nil {
		return s.mailboxChangeErr(err, "create %q", name)
	}
	return nil
}

// mailboxChangeErr maps store refusals of mailbox changes to NO answers.
func (s *Session) mailboxChangeErr(err error, format string, args ...any) error {
	switch {
	case errors.Is(err, store.ErrExists):
		return no(wire.CodeAlreadyExists, "mailbox already exists")
	case errors.Is(err, store.ErrNotFound):
		return no(wire.CodeNonExistent, "no such mailbox")
	case errors.Is(err, store.ErrHasChildren):
		return no(wire.CodeHasChildren, "mailbox has inferior mailboxes")
	case errors.Is(err, store.ErrSpecialUse):
		return no(wire.CodeCannot, "INBOX and special-use mailboxes cannot be deleted")
	case errors.Is(err, store.ErrInvalidName):
		return no(wire.CodeCannot, "invalid mailbox name")
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// deleteCmd: DELETE (RFC 3501 §6.3.4). Deleting the selected mailbox
// first deselects it.
func (s *Session) deleteCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.MailboxArgs)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	if name == "INBOX" {
		return no(wire.CodeCannot, "INBOX cannot be deleted")
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return s.mailboxChangeErr(err, "delete %q", name)
	}
	if err := s.svc.DeleteMailbox(s.ctx, s.user.ID, mb.ID); err != nil {
		return s.mailboxChangeErr(err, "delete %q", name)
	}
	if s.sel != nil && s.sel.id == mb.ID {
		s.deselect()
		s.w.StatusResponse("", wire.OK, wire.CodeClosed, "mailbox deleted")
	}
	return nil
}

// rename: RENAME (RFC 3501 §6.3.5). Inferiors follow; missing superiors
// of the new name are created; renaming INBOX moves its messages to the
// new mailbox and leaves INBOX empty.
func (s *Session) rename(cmd *wire.Command) error {
	a := cmd.Args.(*wire.RenameArgs)
	from, err := s.mailboxName(a.From)
	if err != nil {
		return err
	}
	to, err := s.mailboxName(a.To)
	if err != nil {
		return err
	}
	to = strings.TrimSuffix(to, store.Separator)
	if to == "" || strings.EqualFold(to, "INBOX") {
		return no(wire.CodeAlreadyExists, "target mailbox exists")
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, from)
	if err != nil {
		return s.mailboxChangeErr(err, "rename %q", from)
	}
	if _, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, to); err == nil {
		return no(wire.CodeAlreadyExists, "target mailbox exists")
	}
	if err := s.createParents(to); err != nil {
		return s.mailboxChangeErr(err, "rename %q to %q", from, to)
	}
	if mb.Name != "INBOX" {
		if _, err := s.svc.RenameMailbox(s.ctx, s.user.ID, mb.ID, to); err != nil {
			return s.mailboxChangeErr(err, "rename %q to %q", from, to)
		}
		return nil
	}
	// RFC 3501 §6.3.5: RENAME INBOX moves every message (inferiors of
	// INBOX stay where they are).
	dst, err := s.svc.CreateMailbox(s.ctx, s.user.ID, to, "")
	if err != nil {
		return s.mailboxChangeErr(err, "rename INBOX to %q", to)
	}
	refs, err := s.svc.Store.ListRefs(s.ctx, s.user.ID, mb.ID)
	if err != nil {
		return fmt.Errorf("rename INBOX: list: %w", err)
	}
	if len(refs) == 0 {
		return nil
	}
	uids := make([]uint32, len(refs))
	for i, r := range refs {
		uids[i] = r.UID
	}
	if _, err := s.svc.Move(s.ctx, s.user.ID, mb.ID, storeSet(uids), dst.ID); err != nil {
		return fmt.Errorf("rename INBOX to %q: move messages: %w", to, err)
	}
	return nil
}

// subscribeCmd: SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7).
// Subscriptions are kept on existing mailboxes only.
func (s *Session) subscribeCmd(cmd *wire.Command) error {
	a := cmd.Args.(*wire.MailboxArgs)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	mb, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return s.mailboxChangeErr(err, "%s %q", strings.ToLower(cmd.Name), name)
	}
	if err := s.svc.Store.SetSubscribed(s.ctx, s.user.ID, mb.ID, cmd.Name == "SUBSCRIBE"); err != nil {
		return s.mailboxChangeErr(err, "%s %q", strings.ToLower(cmd.Name), name)
	}
	s.svc.Announce(s.ctx, s.user.ID)
	return nil
}
