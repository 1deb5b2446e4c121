package storetest

import (
	"testing"
	"time"

	"github.com/eidermail/eider/mail/store"
)

func testUsers(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u, err := s.CreateUser(ctx, store.NewUser{Username: "Alice", PasswordHash: "h1", QuotaLimit: 1000, Address: "alice@example.com"})
	noErr(t, "CreateUser", err)
	if u.ID == "" || u.Username != "Alice" || u.QuotaLimit != 1000 || u.StorageUsed != 0 || u.Created.IsZero() {
		t.Fatalf("CreateUser returned %+v", u)
	}
	g, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	if g.ID != u.ID || g.Username != "Alice" || g.PasswordHash != "h1" || g.QuotaLimit != 1000 {
		t.Fatalf("GetUser = %+v, want %+v", g, u)
	}
	for _, login := range []string{"alice", "ALICE", " Alice ", "alice@example.com", "ALICE@EXAMPLE.COM", "alice+tag@example.com"} {
		f, err := s.FindUser(ctx, login)
		if err != nil || f.ID != u.ID {
			t.Fatalf("FindUser(%q) = %v, %v; want user %s", login, f, err, u.ID)
		}
	}
	_, err = s.FindUser(ctx, "bob")
	wantErr(t, "FindUser(unknown)", err, store.ErrNotFound)
	_, err = s.GetUser(ctx, "000000000000000000000000")
	wantErr(t, "GetUser(unknown)", err, store.ErrNotFound)

	_, err = s.CreateUser(ctx, store.NewUser{Username: "aLiCe"})
	wantErr(t, "CreateUser(duplicate username, other case)", err, store.ErrExists)
	_, err = s.CreateUser(ctx, store.NewUser{Username: "carol", Address: "Alice@Example.com"})
	wantErr(t, "CreateUser(address taken)", err, store.ErrExists)
	if _, err := s.FindUser(ctx, "carol"); err == nil {
		t.Fatal("failed CreateUser left the user behind (not atomic)")
	}
	_, err = s.CreateUser(ctx, store.NewUser{Username: "bad name"})
	if err == nil {
		t.Fatal("CreateUser accepted a username with a space")
	}

	// Update.
	pw, q, dis := "h2", int64(5000), true
	up, err := s.UpdateUser(ctx, u.ID, store.UserUpdate{PasswordHash: &pw, QuotaLimit: &q, Disabled: &dis})
	noErr(t, "UpdateUser", err)
	if up.PasswordHash != "h2" || up.QuotaLimit != 5000 || !up.Disabled {
		t.Fatalf("UpdateUser = %+v", up)
	}
	up, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{})
	noErr(t, "UpdateUser(no change)", err)
	if up.PasswordHash != "h2" || up.QuotaLimit != 5000 || !up.Disabled {
		t.Fatalf("empty UpdateUser changed fields: %+v", up)
	}
	_, err = s.UpdateUser(ctx, "000000000000000000000000", store.UserUpdate{PasswordHash: &pw})
	wantErr(t, "UpdateUser(unknown)", err, store.ErrNotFound)

	// Token revocation: stored to the nanosecond, and only moves forward.
	if !up.TokensRevoked.IsZero() {
		t.Fatalf("new user has tokens revoked at %v", up.TokensRevoked)
	}
	later := time.Unix(1_900_000_000, 123456789).UTC()
	earlier := later.Add(-time.Hour)
	up, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{TokensRevoked: &later})
	noErr(t, "UpdateUser(revoke tokens)", err)
	if !up.TokensRevoked.Equal(later) || up.PasswordHash != "h2" {
		t.Fatalf("UpdateUser(revoke) = %+v, want revoked at %v", up, later)
	}
	up, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{TokensRevoked: &earlier})
	noErr(t, "UpdateUser(earlier revocation)", err)
	if g, _ := s.GetUser(ctx, u.ID); !up.TokensRevoked.Equal(later) || !g.TokensRevoked.Equal(later) {
		t.Fatalf("an earlier revocation time replaced a later one: %v / %v", up.TokensRevoked, g.TokensRevoked)
	}

	// List with paging, ordered by ID.
	ids := map[string]bool{u.ID: true}
	for _, n := range []string{"u1", "u2", "u3", "u4"} {
		ids[h.user(n).ID] = true
	}
	var got []string
	after := ""
	for {
		page, err := s.ListUsers(ctx, after, 2)
		noErr(t, "ListUsers", err)
		if len(page) > 2 {
			t.Fatalf("ListUsers(limit 2) returned %d", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, p := range page {
			if p.ID <= after {
				t.Fatalf("ListUsers not ordered by ID: %q after %q", p.ID, after)
			}
			after = p.ID
			got = append(got, p.ID)
		}
	}
	if len(got) != len(ids) {
		t.Fatalf("ListUsers paged through %d users, want %d", len(got), len(ids))
	}

	// Delete.
	noErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	_, err = s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser(deleted)", err, store.ErrNotFound)
	_, err = s.FindUser(ctx, "alice@example.com")
	wantErr(t, "FindUser(address of deleted user)", err, store.ErrNotFound)
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, u.ID), store.ErrNotFound)
	// Username and address are free again.
	_, err = s.CreateUser(ctx, store.NewUser{Username: "alice", Address: "alice@example.com"})
	noErr(t, "CreateUser(reuse name of deleted user)", err)
}

func testUnicodeUsers(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u, err := s.CreateUser(ctx, store.NewUser{Username: "Дмитрий", Address: "дмитрий@пример.рф"})
	noErr(t, "CreateUser(Дмитрий)", err)
	if u.Username != "Дмитрий" {
		t.Fatalf("Username = %q, want the given spelling", u.Username)
	}
	for _, login := range []string{
		"дмитрий", "ДМИТРИЙ", "Дмитрий",
		"дмитрий@пример.рф",
		"ДМИТРИЙ@xn--e1afmkfd.xn--p1ai",
		"дмитрий+news@пример.рф",
		"Дмитрий@ПРИМЕР.РФ",
	} {
		f, err := s.FindUser(ctx, login)
		if err != nil || f.ID != u.ID {
			t.Fatalf("FindUser(%q) = %v, %v; want %s", login, f, err, u.ID)
		}
	}
	ru, a, err := s.ResolveAddress(ctx, "ДМИТРИЙ@xn--e1afmkfd.xn--p1ai")
	noErr(t, "ResolveAddress(punycode)", err)
	if ru.ID != u.ID || a.Normalized != "дмитрий@пример.рф" || a.Address != "дмитрий@пример.рф" || !a.Main {
		t.Fatalf("ResolveAddress = %+v %+v", ru, a)
	}
	// NFC: decomposed é finds the composed username.
	j, err := s.CreateUser(ctx, store.NewUser{Username: "Jos\u00e9"})
	noErr(t, "CreateUser(José)", err)
	f, err := s.FindUser(ctx, "JOSE\u0301")
	if err != nil || f.ID != j.ID {
		t.Fatalf("FindUser(decomposed JOSÉ) = %v, %v", f, err)
	}
	_, err = s.CreateUser(ctx, store.NewUser{Username: "jose\u0301"})
	wantErr(t, "CreateUser(decomposed duplicate)", err, store.ErrExists)
	_, err = s.AddAddress(ctx, j.ID, "ДМИТРИЙ@xn--e1afmkfd.xn--p1ai", false)
	wantErr(t, "AddAddress(IDN duplicate in punycode)", err, store.ErrExists)
}

func testAddresses(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	u := h.user("ann")
	other := h.user("ben")
	a1, err := s.AddAddress(ctx, u.ID, "Ann@Example.com", false)
	noErr(t, "AddAddress(first)", err)
	if !a1.Main || a1.Address != "Ann@Example.com" || a1.Normalized != "ann@example.com" || a1.UserID != u.ID {
		t.Fatalf("first address = %+v, want main with normalized key", a1)
	}
	a2, err := s.AddAddress(ctx, u.ID, "ann2@example.com", false)
	noErr(t, "AddAddress(second)", err)
	if a2.Main {
		t.Fatal("second address became main without main=true")
	}
	a3, err := s.AddAddress(ctx, u.ID, "ann3@example.com", true)
	noErr(t, "AddAddress(main=true)", err)
	mainOf := func() string {
		t.Helper()
		as, err := s.ListAddresses(ctx, u.ID)
		noErr(t, "ListAddresses", err)
		main := ""
		for _, a := range as {
			if a.Main {
				if main != "" {
					t.Fatalf("two main addresses: %s and %s", main, a.ID)
				}
				main = a.ID
			}
		}
		if len(as) != 3 {
			t.Fatalf("ListAddresses = %d addresses, want 3", len(as))
		}
		return main
	}
	if m := mainOf(); m != a3.ID {
		t.Fatalf("main = %s, want the address added with main=true %s", m, a3.ID)
	}
	noErr(t, "SetMainAddress", s.SetMainAddress(ctx, u.ID, a2.ID))
	if m := mainOf(); m != a2.ID {
		t.Fatalf("main = %s after SetMainAddress(%s)", m, a2.ID)
	}
	wantErr(t, "DeleteAddress(main)", s.DeleteAddress(ctx, u.ID, a2.ID), store.ErrMainAddress)
	wantErr(t, "SetMainAddress(other user's)", s.SetMainAddress(ctx, other.ID, a1.ID), store.ErrNotFound)
	wantErr(t, "DeleteAddress(other user's)", s.DeleteAddress(ctx, other.ID, a1.ID), store.ErrNotFound)
	_, err = s.AddAddress(ctx, other.ID, "ANN@example.COM", false)
	wantErr(t, "AddAddress(taken by another user)", err, store.ErrExists)
	_, err = s.AddAddress(ctx, u.ID, "not an address", false)
	if err == nil {
		t.Fatal("AddAddress accepted an invalid address")
	}
	noErr(t, "DeleteAddress(non-main)", s.DeleteAddress(ctx, u.ID, a1.ID))
	_, _, err = s.ResolveAddress(ctx, "ann@example.com")
	wantErr(t, "ResolveAddress(deleted)", err, store.ErrNotFound)

	// +label: exact match first, then stripped.
	tagged, err := s.AddAddress(ctx, other.ID, "ann2+lists@example.com", false)
	noErr(t, "AddAddress(tagged)", err)
	ru, ra, err := s.ResolveAddress(ctx, "ann2+lists@example.com")
	noErr(t, "ResolveAddress(exact tagged)", err)
	if ru.ID != other.ID || ra.ID != tagged.ID {
		t.Fatalf("ResolveAddress(exact +label) = user %s addr %s, want the exact owner %s", ru.ID, ra.ID, other.ID)
	}
	ru, ra, err = s.ResolveAddress(ctx, "ANN2+other@example.com")
	noErr(t, "ResolveAddress(stripped)", err)
	if ru.ID != u.ID || ra.ID != a2.ID {
		t.Fatalf("ResolveAddress(+label fallback) = user %s addr %s, want %s", ru.ID, ra.ID, u.ID)
	}
	_, _, err = s.ResolveAddress(ctx, "nobody@example.com")
	wantErr(t, "ResolveAddress(unknown)", err, store.ErrNotFound)
	_, err = s.ListAddresses(ctx, "000000000000000000000000")
	wantErr(t, "ListAddresses(unknown user)", err, store.ErrNotFound)
}
