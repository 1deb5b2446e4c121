package storetest

import (
	"bytes"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// testBlobRefcounts: the same blob in two messages of two users is stored
// once and deleted from the blob store only when the last reference goes.
func testBlobRefcounts(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	att := bytes.Repeat([]byte("shared attachment\r\n"), 20000)
	a, b := h.user("bloba"), h.user("blobb")
	ain, bin := h.mailbox(a, "INBOX"), h.mailbox(b, "INBOX")
	ma := h.append(a, ain, spec{Subject: "report", Blob: att})
	mb := h.append(b, bin, spec{Subject: "report", Blob: att})
	hash := ma.Segments[len(ma.Segments)-1].Hash
	if hash == "" || mb.Segments[len(mb.Segments)-1].Hash != hash {
		t.Fatalf("test setup: blob segments %+v %+v", ma.Segments, mb.Segments)
	}
	blobs := h.blobs()
	if len(blobs) != 1 || blobs[hash] != int64(len(att)) {
		t.Fatalf("blob store holds %v, want the one shared blob %s", blobs, hash)
	}
	h.consistent()
	// Copy takes a reference; deleting the original keeps the blob.
	_, err := s.Copy(ctx, a.ID, ain.ID, set(ma.UID), ain.ID)
	noErr(t, "Copy", err)
	_, err = s.Delete(ctx, a.ID, ain.ID, set(ma.UID))
	noErr(t, "Delete(original)", err)
	if _, ok := h.blobs()[hash]; !ok {
		t.Fatal("blob deleted while a copy and another user still reference it")
	}
	// Move keeps the reference.
	arch := h.mailbox(a, "Archive")
	_, err = s.Move(ctx, a.ID, ain.ID, all(), arch.ID)
	noErr(t, "Move", err)
	_, err = s.StoreFlags(ctx, a.ID, arch.ID, all(), store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagDeleted}})
	noErr(t, "StoreFlags", err)
	_, err = s.Expunge(ctx, a.ID, arch.ID, nil)
	noErr(t, "Expunge", err)
	if _, ok := h.blobs()[hash]; !ok {
		t.Fatal("blob deleted while user B still references it")
	}
	h.consistent()
	_, err = s.Delete(ctx, b.ID, bin.ID, all())
	noErr(t, "Delete(last reference)", err)
	if _, ok := h.blobs()[hash]; ok {
		t.Fatal("blob still in the blob store after its last reference was deleted")
	}
	// The same content appended again is stored again and readable.
	m := h.append(a, ain, spec{Subject: "again", Blob: att})
	rc, err := s.OpenMessage(ctx, m, 0, -1)
	noErr(t, "OpenMessage", err)
	var buf bytes.Buffer
	_, err = buf.ReadFrom(rc)
	rc.Close()
	noErr(t, "read", err)
	if !bytes.HasSuffix(buf.Bytes(), att) {
		t.Fatal("re-appended blob content not readable")
	}
	// DeleteMailbox releases too.
	x := h.mailbox(a, "X")
	_, err = s.Move(ctx, a.ID, ain.ID, all(), x.ID)
	noErr(t, "Move", err)
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, x.ID))
	if len(h.blobs()) != 0 {
		t.Fatalf("blobs left after DeleteMailbox: %v", h.blobs())
	}
}

func testDeleteUserBlobs(t *testing.T, h *harness) {
	s, ctx := h.s, h.ctx
	att1 := bytes.Repeat([]byte("first\r\n"), 30000)
	att2 := bytes.Repeat([]byte("second\r\n"), 30000)
	a, b := h.user("dela"), h.user("delb")
	ain, bin := h.mailbox(a, "INBOX"), h.mailbox(b, "INBOX")
	h.append(a, ain, spec{Blob: att1})
	h.append(a, h.mailbox(a, "Trash"), spec{Blob: att2})
	h.append(a, ain, spec{Blob: att2}) // two references from one user
	h.append(b, bin, spec{Blob: att1})
	if len(h.blobs()) != 2 {
		t.Fatalf("blob store holds %d blobs, want 2", len(h.blobs()))
	}
	noErr(t, "DeleteUser(a)", s.DeleteUser(ctx, a.ID))
	bl := h.blobs()
	if len(bl) != 1 {
		t.Fatalf("after deleting user a the blob store holds %d blobs, want only b's", len(bl))
	}
	h.consistent()
	noErr(t, "DeleteUser(b)", s.DeleteUser(ctx, b.ID))
	if len(h.blobs()) != 0 {
		t.Fatalf("blobs left after deleting every user: %v", h.blobs())
	}
	users, err := s.ListUsers(ctx, "", 0)
	noErr(t, "ListUsers", err)
	if len(users) != 0 {
		t.Fatalf("users left: %+v", users)
	}
}
