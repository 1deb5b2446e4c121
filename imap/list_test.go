package imap

import (
	"strings"
	"testing"
)

func TestMailboxCommandsWithImaplib(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("one"), `\Seen`)
	e.appendMsg(e.alice, "INBOX", testMessage("two"))
	out := e.python(`
M = login()
# CREATE with missing parents and a trailing delimiter.
ok(M.create("Work/Projects/Eider/"))
ok(M.create("Archive"))
typ, data = M.create("Archive")
assert typ == "NO" and b"ALREADYEXISTS" in data[0], (typ, data)
data = ok(M.list('""', "*"))
names = [l.decode() for l in data]
print("\n".join("LIST " + n for n in names))
assert any(n.endswith(' "/" Work') and "\\HasChildren" in n for n in names), names
assert any(n.endswith(' "/" Work/Projects/Eider') and "\\HasNoChildren" in n for n in names), names
assert any("\\Sent" in n and "Sent Mail" in n for n in names), names
# % stops at the delimiter.
data = ok(M.list('""', "Work/%"))
assert len(data) == 1 and data[0].endswith(b"Work/Projects"), data
data = ok(M.list("Work/", "%"))
assert len(data) == 1 and data[0].endswith(b"Work/Projects"), data
# Empty pattern: the delimiter.
data = ok(M.list('""', '""'))
assert data == [b'(\\Noselect) "/" ""'], data
# RENAME takes the inferiors along.
ok(M.rename("Work", "Job"))
data = ok(M.list('""', "Job*"))
assert len(data) == 3 and all(b"Job" in l for l in data), data
data = ok(M.list('""', "Work*"))
assert data == [None], data
# DELETE: a mailbox with inferiors is refused, a leaf goes.
typ, data = M.delete("Job/Projects")
assert typ == "NO" and b"HASCHILDREN" in data[0], (typ, data)
ok(M.delete("Job/Projects/Eider"))
typ, data = M.delete("INBOX")
assert typ == "NO", (typ, data)
typ, data = M.delete("Nope")
assert typ == "NO" and b"NONEXISTENT" in data[0], (typ, data)
# SUBSCRIBE / LSUB / LIST (SUBSCRIBED). New mailboxes start subscribed.
ok(M.unsubscribe("Archive"))
data = ok(M.lsub('""', "*"))
assert b'() "/" INBOX' in data and not any(l.endswith(b"Archive") for l in data), data
typ, data = M._simple_command("LIST", "(SUBSCRIBED)", '""', '"*"')
assert typ == "OK", typ
data = M._untagged_response(typ, data, "LIST")[1]
assert not any(l.endswith(b"Archive") for l in data) and all(b"\\Subscribed" in l for l in data), data
ok(M.subscribe("Archive"))
data = ok(M.lsub('""', "Arch*"))
assert data == [b'() "/" Archive'], data
# Special use: RETURN (SPECIAL-USE) and the selection option.
typ, data = M._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"', "RETURN", "(SPECIAL-USE)")
assert typ == "OK", typ
data = M._untagged_response(typ, data, "LIST")[1]
assert len(data) == 4, data
ok(M._simple_command("CREATE", "Stuff", "(USE (\\Archive))"))
typ, data = M._simple_command("CREATE", "Stuff2", "(USE (\\Archive))")
assert typ == "NO", typ
# Unicode names: modified UTF-7 on the wire.
ok(M.create("&AMk-t&AOk-"))
data = ok(M.list('""', "&AMk-*"))
assert data == [b'(\\HasNoChildren) "/" &AMk-t&AOk-'], data
# STATUS and LIST-STATUS.
data = ok(M.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT HIGHESTMODSEQ SIZE)"))
print("STATUS", data[0].decode())
typ, data = M._simple_command("LIST", '""', "INBOX", "RETURN", "(STATUS (MESSAGES UNSEEN))")
assert typ == "OK", typ
st = M._untagged_response(typ, data, "STATUS")[1]
assert st == [b'INBOX (MESSAGES 2 UNSEEN 1)'], st
M.logout()
`)
	if !strings.Contains(out, "STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ") || !strings.Contains(out, "UNSEEN 1 RECENT 0 HIGHESTMODSEQ ") {
		t.Errorf("status: %s", out)
	}
	// The store agrees with what LIST showed.
	if _, err := e.svc.Store.FindMailbox(t.Context(), e.alice.ID, "Job/Projects"); err != nil {
		t.Errorf("renamed inferior: %v", err)
	}
	if _, err := e.svc.Store.FindMailbox(t.Context(), e.alice.ID, "Été"); err != nil {
		t.Errorf("unicode mailbox: %v", err)
	}
}

// RENAME INBOX moves its messages into a new mailbox and leaves INBOX
// empty (RFC 3501 §6.3.5); a session with INBOX selected sees them go.
func TestRenameInbox(t *testing.T) {
	e := newTestEnv(t, nil)
	e.appendMsg(e.alice, "INBOX", testMessage("one"))
	e.appendMsg(e.alice, "INBOX", testMessage("two"))
	watcher := e.raw()
	watcher.login()
	watcher.expectOK("w1 SELECT INBOX")
	r := e.raw()
	r.login()
	r.expectOK("r1 RENAME INBOX Old/Inbox")
	out := r.expectOK(`r2 STATUS INBOX (MESSAGES UIDNEXT)`)
	if !hasLine(out, "MESSAGES 0") || !hasLine(out, "UIDNEXT 3") {
		t.Errorf("INBOX after RENAME: %q", out)
	}
	out = r.expectOK(`r3 STATUS Old/Inbox (MESSAGES)`)
	if !hasLine(out, "MESSAGES 2") {
		t.Errorf("target after RENAME: %q", out)
	}
	out = watcher.expectOK("w2 NOOP")
	if n := strings.Count(strings.Join(out, "\n"), "* 1 EXPUNGE"); n != 2 {
		t.Errorf("watcher: %q", out)
	}
	if out := r.cmd("r4 RENAME Nope Other"); !strings.HasPrefix(out[len(out)-1], "r4 NO [NONEXISTENT]") {
		t.Errorf("RENAME of a missing mailbox: %q", out)
	}
	if out := r.cmd("r5 RENAME Old Trash"); !strings.HasPrefix(out[len(out)-1], "r5 NO [ALREADYEXISTS]") {
		t.Errorf("RENAME onto an existing mailbox: %q", out)
	}
	// Renaming the selected mailbox keeps it selected under the new name.
	r.expectOK("r6 SELECT Old/Inbox")
	r.expectOK("r7 RENAME Old Archive")
	out = r.expectOK("r8 NOOP")
	if hasLine(out, "BYE") {
		t.Errorf("after renaming the selected mailbox's parent: %q", out)
	}
	out = r.expectOK(`r9 LIST "" "Archive*"`)
	if len(out) != 3 || !hasLine(out, `"/" Archive/Inbox`) {
		t.Errorf("LIST after rename: %q", out)
	}
}

func TestListRecursiveMatchAndDeleteSelected(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.raw()
	r.login()
	r.expectOK("a1 CREATE Top/Sub")
	r.expectOK("a2 UNSUBSCRIBE Top")
	out := r.expectOK(`a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" "Top"`)
	if !hasLine(out, `"/" Top ("CHILDINFO" ("SUBSCRIBED"))`) || hasLine(out, `\Subscribed) "/" Top`) {
		t.Errorf("RECURSIVEMATCH: %q", out)
	}
	out = r.expectOK(`a4 LIST "" "Top" RETURN (SUBSCRIBED CHILDREN)`)
	if !hasLine(out, `* LIST (\HasChildren) "/" Top`) {
		t.Errorf("RETURN (SUBSCRIBED CHILDREN) of an unsubscribed parent: %q", out)
	}
	// Deleting the selected mailbox deselects it.
	r.expectOK("a5 SELECT Top/Sub")
	out = r.expectOK("a6 DELETE Top/Sub")
	if !hasLine(out, "* OK [CLOSED]") {
		t.Errorf("DELETE of the selected mailbox: %q", out)
	}
	if out := r.cmd("a7 NOOP"); hasLine(out, "BYE") {
		t.Errorf("after DELETE: %q", out)
	}
	if out := r.cmd("a8 CLOSE"); !strings.HasPrefix(out[len(out)-1], "a8 BAD") {
		t.Errorf("still selected after DELETE: %q", out)
	}
	// Another session with the mailbox selected is told BYE.
	r.expectOK("b1 CREATE Gone")
	r2 := e.raw()
	r2.login()
	r2.expectOK("c1 SELECT Gone")
	r.expectOK("b2 DELETE Gone")
	if out := r2.cmd("c2 NOOP"); !hasLine(out, "* BYE") {
		t.Errorf("other session after DELETE of its mailbox: %q", out)
	}
}
