package imap

import (
	"fmt"

	"github.com/eidermail/eider/imap/wire"
)

func init() {
	register("GETQUOTA", handler{fn: (*Session).getQuota, states: inAuth})
	register("GETQUOTAROOT", handler{fn: (*Session).getQuotaRoot, states: inAuth})
	register("SETQUOTA", handler{fn: (*Session).setQuota, states: inAuth})
}

// quotaRoot is the one quota root of an account (RFC 9208 §3.2): every
// mailbox of the user shares the user's storage quota.
const quotaRoot = ""

// writeQuota writes "* QUOTA "" (STORAGE used limit)" (RFC 9208 §5.1).
// STORAGE is in units of 1024 octets (§5.3.1), usage rounded up. A user
// without a limit has no resource listed.
func (s *Session) writeQuota() error {
	u, err := s.svc.Store.GetUser(s.ctx, s.user.ID)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	res := []wire.QuotaResource{}
	if u.QuotaLimit > 0 {
		res = append(res, wire.QuotaResource{Name: "STORAGE",
			Usage: uint64((u.StorageUsed + 1023) / 1024), Limit: uint64(u.QuotaLimit / 1024)})
	}
	s.w.Quota(quotaRoot, res)
	return nil
}

// getQuota: GETQUOTA root (RFC 9208 §4.2).
func (s *Session) getQuota(cmd *wire.Command) error {
	a := cmd.Args.(*wire.QuotaRootArgs)
	if a.Root != quotaRoot {
		return no(wire.CodeNonExistent, "no such quota root")
	}
	return s.writeQuota()
}

// getQuotaRoot: GETQUOTAROOT mailbox (RFC 9208 §4.3).
func (s *Session) getQuotaRoot(cmd *wire.Command) error {
	a := cmd.Args.(*wire.MailboxArgs)
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	if _, err := s.svc.Store.FindMailbox(s.ctx, s.user.ID, name); err != nil {
		return s.mailboxErr(err, "getquotaroot %q", name)
	}
	s.w.QuotaRoot(a.Mailbox, quotaRoot)
	return s.writeQuota()
}

// setQuota: SETQUOTA (RFC 9208 §4.5) is for administrators; quotas are
// set with the admin command or the API.
func (s *Session) setQuota(*wire.Command) error {
	return no(wire.CodeNoPerm, "quotas are set by the administrator")
}
