package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/eidermail/eider/mail/store"
)

// TestListRefsPackedColumns: the per-column packing lines rows up also
// when the first rows have no flags (empty strings in group_concat), for
// a full listing, ChangedSince and a cache delta.
func TestListRefsPackedColumns(t *testing.T) {
	s, _, _ := openTemp(t, "normal")
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "packed"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, u.ID, "Packed", "")
	if err != nil {
		t.Fatal(err)
	}
	s.refs.minLen = 10
	g := newTextGen(3)
	var batch []*store.NewMessage
	for j := 0; j < 40; j++ {
		m := benchMessage(g, j, 200)
		m.Flags = nil
		if j >= 3 && j%4 == 0 {
			m.Flags = []string{store.FlagFlagged, "$Work"}
		}
		batch = append(batch, m)
	}
	if err := s.appendBulk(ctx, u.ID, mb.ID, batch); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRefs(t, "full listing", got, refsFromRows(t, s, mb.ID))
	if len(got[0].Flags) != 0 || len(got[4].Flags) != 2 {
		t.Fatalf("flags of uid 1 and 5: %v, %v", got[0].Flags, got[4].Flags)
	}
	if _, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 2, Stop: 3}}, store.FlagUpdate{Mode: store.FlagsSet, Flags: []string{store.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 5, Stop: 5}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	before := s.refs.counts()
	got, err = s.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.refs.counts().merges != before.merges+1 {
		t.Fatal("second listing was not a merge of the delta")
	}
	all := refsFromRows(t, s, mb.ID)
	sameRefs(t, "merged listing", got, all)
	changed, err := s.ChangedSince(ctx, u.ID, mb.ID, all[39].ModSeq)
	if err != nil {
		t.Fatal(err)
	}
	sameRefs(t, "changed since", changed, []store.MessageRef{all[1], all[2], all[4]})
}

// TestAppendPackedLineUp: packed columns with a different number of
// entries than rows are an error, not shifted refs.
func TestAppendPackedLineUp(t *testing.T) {
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	good := packed{uids: str("1,2"), modseqs: str("5,6"), ids: str("aa bb"), flags: str("\n\\Seen"), n: 2}
	out, err := appendPacked(nil, &good, map[string][]string{})
	if err != nil || len(out) != 2 || out[1].ID != "bb" || out[1].ModSeq != 6 || len(out[0].Flags) != 0 || out[1].Flags[0] != `\Seen` {
		t.Fatalf("good = %+v, %v", out, err)
	}
	for _, p := range []packed{
		{uids: str("1,2,3"), modseqs: str("5,6"), ids: str("aa bb"), flags: str("\n"), n: 2},
		{uids: str("1,2"), modseqs: str("5,6"), ids: str("aa"), flags: str("\n"), n: 2},
		{uids: str("1,2"), modseqs: str("5,6"), ids: str("aa bb"), flags: str(""), n: 2},
		{uids: str("1,x"), modseqs: str("5,6"), ids: str("aa bb"), flags: str("\n"), n: 2},
		{uids: str("1,2"), modseqs: str("5,6"), ids: str("aa bb"), flags: str("\n"), n: 3},
	} {
		if out, err := appendPacked(nil, &p, map[string][]string{}); err == nil {
			t.Errorf("%+v: no error, got %+v", p, out)
		}
	}
}

// TestRefsSnapshot: a full read of a large mailbox is persisted, and a
// first listing (memory cache emptied, as after a start) answers from it —
// as is, merged with the changes since, or by a full read again when
// messages were removed or the packed listing does not decode — always
// equal to a row-by-row read. A deleted mailbox takes its listing along.
func TestRefsSnapshot(t *testing.T) {
	s, _, _ := openTemp(t, "normal")
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "snap"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, u.ID, "Big", "")
	if err != nil {
		t.Fatal(err)
	}
	s.refs.minLen, s.refs.snapMin = 50, 50
	fillMailbox(t, s, u.ID, mb.ID, 300)
	type counts struct{ hits, merges, loads, snaps int64 }
	now := func() counts {
		return counts{s.refs.hits.Load(), s.refs.merges.Load(), s.refs.loads.Load(), s.refs.snaps.Load()}
	}
	snapshots := func() int {
		var n int
		if err := s.r.DB.QueryRow(`SELECT COUNT(*) FROM refs_snapshot`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := func(what string, want counts) {
		t.Helper()
		s.refs.reset() // a first listing: nothing in memory
		before := now()
		got, err := s.ListRefs(ctx, u.ID, mb.ID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sameRefs(t, what, got, refsFromRows(t, s, mb.ID))
		a := now()
		if d := (counts{a.hits - before.hits, a.merges - before.merges, a.loads - before.loads, a.snaps - before.snaps}); d != want {
			t.Fatalf("%s: answered by %+v, want %+v", what, d, want)
		}
	}
	first("first listing ever", counts{loads: 1})
	if snapshots() != 1 {
		t.Fatal("the full read was not persisted")
	}
	first("after a start", counts{hits: 1, snaps: 1})
	if _, err := s.StoreFlags(ctx, u.ID, mb.ID, store.UIDSet{{Start: 7, Stop: 9}}, store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{"$Snap"}}); err != nil {
		t.Fatal(err)
	}
	fillMailbox(t, s, u.ID, mb.ID, 5)
	first("after flag changes and appends", counts{merges: 1, snaps: 1})
	if _, err := s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: 10, Stop: 10}}); err != nil {
		t.Fatal(err)
	}
	first("after a removal", counts{loads: 1})
	first("after the rewrite", counts{hits: 1, snaps: 1})
	if _, err := s.w.Exec(`UPDATE refs_snapshot SET data = x'00'`); err != nil {
		t.Fatal(err)
	}
	first("with a broken packed listing", counts{loads: 1})
	first("after repairing it", counts{hits: 1, snaps: 1})
	// While the memory cache holds the mailbox, a full read (after a
	// removal) is not persisted.
	snapModSeq := func() (m int64) {
		if err := s.r.DB.QueryRow(`SELECT modseq FROM refs_snapshot`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	was := snapModSeq()
	if _, err := s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: 11, Stop: 11}}); err != nil {
		t.Fatal(err)
	}
	loads := s.refs.loads.Load()
	got, err := s.ListRefs(ctx, u.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRefs(t, "warm listing after a removal", got, refsFromRows(t, s, mb.ID))
	if s.refs.loads.Load() != loads+1 || snapModSeq() != was {
		t.Fatalf("warm full read: %d loads, packed listing modseq %d (was %d)", s.refs.loads.Load()-loads, snapModSeq(), was)
	}
	if err := s.DeleteMailbox(ctx, u.ID, mb.ID); err != nil {
		t.Fatal(err)
	}
	if n := snapshots(); n != 0 {
		t.Fatalf("%d packed listings after deleting the mailbox", n)
	}
}

// TestEncodeRefs: packing round-trips, and truncated or altered packings
// are refused.
func TestEncodeRefs(t *testing.T) {
	refs := []store.MessageRef{
		{UID: 1, ModSeq: 10, ID: "aaaaaaaaaaaaaaaaaaaaaaaa", Flags: []string{}},
		{UID: 5, ModSeq: 1 << 40, ID: "b", Flags: []string{`\Seen`, "$X"}},
		{UID: 1<<32 - 1, ModSeq: 3, ID: "cc", Flags: []string{}},
	}
	b := encodeRefs(refs)
	got, err := decodeRefs(b)
	if err != nil {
		t.Fatal(err)
	}
	sameRefs(t, "round trip", got, refs)
	for cut := 0; cut < len(b); cut++ {
		if _, err := decodeRefs(b[:cut]); err == nil {
			t.Fatalf("packing cut at %d of %d decoded", cut, len(b))
		}
	}
	if _, err := decodeRefs(append(append([]byte{}, b...), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// TestFetchRefs: FetchRefs returns what Fetch without Meta returns, as
// refs, for small, large (widened to their bounds in SQL) and empty sets.
func TestFetchRefs(t *testing.T) {
	s, _, _ := openTemp(t, "normal")
	ctx := context.Background()
	u, err := s.CreateUser(ctx, store.NewUser{Username: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, u.ID, "Refs", "")
	if err != nil {
		t.Fatal(err)
	}
	fillMailbox(t, s, u.ID, mb.ID, 300)
	if _, err := s.Delete(ctx, u.ID, mb.ID, store.UIDSet{{Start: 50, Stop: 60}}); err != nil {
		t.Fatal(err)
	}
	var many store.UIDSet
	for i := uint32(1); i < 280; i += 3 {
		many = append(many, store.UIDRange{Start: i, Stop: i})
	}
	for _, set := range []store.UIDSet{{{Start: 1, Stop: 1}}, {{Start: 40, Stop: 70}, {Start: 299}}, many, {{Start: 500}}, {}} {
		got, err := s.FetchRefs(ctx, u.ID, mb.ID, set)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := s.Fetch(ctx, u.ID, mb.ID, set, false)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]store.MessageRef, 0, len(ms))
		for _, m := range ms {
			want = append(want, m.MessageRef)
		}
		sameRefs(t, fmt.Sprintf("set of %d ranges", len(set)), got, want)
	}
	if got, _ := s.FetchRefs(ctx, u.ID, mb.ID, many); len(got) != 90 {
		t.Fatalf("the large set gave %d refs, want 90", len(got))
	}
	if _, err := s.FetchRefs(ctx, u.ID, "nope", store.UIDSet{{Start: 1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown mailbox: %v", err)
	}
}
