package imap

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail"
	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
)

// FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8; RFC 7162 §3.1.4 MODSEQ and
// CHANGEDSINCE).
//
// Everything a response holds comes from the store's precomputed data:
// ENVELOPE, BODY and BODYSTRUCTURE are the wire strings mimetree computed at
// delivery, and every BODY[section] is a byte range of the raw message found
// in the part tree. Section contents are streamed from the store
// (Store.OpenMessage) into the literal, never buffered whole; only
// HEADER.FIELDS[.NOT], whose result must be cut out of a header block
// (bounded by the parser's header limit), is built in memory. A section
// the message does not have is NIL, as Dovecot answers; BINARY is in
// fetch_binary.go.
//
// Messages expunged by another session whose EXPUNGE is held back
// (RFC 3501 §7.4.1 forbids sending it during FETCH) are still numbered in
// the snapshot but no longer in the store. FETCH returns the data of every
// other requested message and answers the command "NO [EXPUNGEISSUED]"
// (RFC 2180 §4.1.3, RFC 5530 §3); UID FETCH skips them silently, as it does
// any UID that does not exist (RFC 3501 §6.4.8), and the EXPUNGE follows
// right after the command.

func init() {
	register("FETCH", handler{fn: (*Session).fetch, states: inSelected, noExpunge: true})
}

// Batch sizes: messages whose metadata (part tree, envelope) is loaded at
// once, and UIDs per store call when only UID/FLAGS/MODSEQ are wanted.
const (
	fetchMetaBatch = 100
	fetchRefBatch  = 2000
	// fetchListAll: above this many UIDs, or for at least half of the
	// mailbox, a FLAGS-only fetch reads the whole mailbox's refs
	// (ListRefs: UID, MODSEQ and flags from a covering index, cached for
	// large mailboxes) instead of message rows by UID range. Profiled under
	// bench/imap.sh (200 messages, UID FETCH 1:* (FLAGS)): Store.Fetch of
	// the rows cost about 4x the CPU of ListRefs for the same messages.
	fetchListAll = 512
)

// listAllRefs reports whether a FLAGS-only fetch of n UIDs reads every ref
// of the mailbox (see fetchListAll).
func (s *Session) listAllRefs(n int) bool {
	return n > fetchListAll || 2*n >= int(s.sel.count())
}

// fetchPlan is what a FETCH needs from the store.
type fetchPlan struct {
	items    []wire.FetchItem
	refsOnly bool // only UID, FLAGS, MODSEQ: MessageRefs suffice
	meta     bool // part tree, envelope, segments
	setsSeen bool // an item sets \Seen (RFC 3501 §6.4.5)
}

func planFetch(items []wire.FetchItem) fetchPlan {
	p := fetchPlan{items: items, refsOnly: true}
	for _, it := range items {
		switch it.Kind {
		case wire.FetchUID, wire.FetchFlags, wire.FetchModSeq:
		case wire.FetchInternalDate, wire.FetchRFC822Size:
			p.refsOnly = false
		default:
			p.refsOnly = false
			p.meta = true
		}
		if it.SetsSeen() {
			p.setsSeen = true
		}
	}
	return p
}

func (s *Session) fetch(cmd *wire.Command) error {
	a := cmd.Args.(*wire.FetchArgs)
	sm := s.sel
	if a.Vanished {
		// RFC 7162 §3.2.6: VANISHED needs QRESYNC, which is not offered.
		return bad("", "VANISHED requires QRESYNC, which is not enabled")
	}
	if a.HasChangedSince || a.Has(wire.FetchModSeq) {
		s.enableCondstore() // RFC 7162 §3.1
	}
	uids, err := s.resolveSet(cmd.UID, a.Set)
	if err != nil {
		return err
	}
	p := planFetch(a.Items)
	markSeen := p.setsSeen && !sm.readOnly
	missing := 0

	switch {
	case p.refsOnly && a.HasChangedSince:
		err = s.fetchChangedRefs(uids, a)
	case p.refsOnly && !markSeen:
		missing, err = s.fetchRefs(uids, a)
	default:
		missing, err = s.fetchMessages(uids, a, p, markSeen)
	}
	if err != nil {
		return err
	}
	if missing > 0 && !cmd.UID {
		return no(wire.CodeExpungeIssued, "some of the requested messages were expunged")
	}
	return nil
}

// resolveSet turns a sequence set (or UID set) into snapshot UIDs.
func (s *Session) resolveSet(uid bool, set wire.NumSet) ([]uint32, error) {
	if uid {
		return s.uidSetUIDs(set), nil
	}
	return s.seqSetUIDs(set)
}

// fetchChangedRefs answers "FETCH set (FLAGS ...) (CHANGEDSINCE n)" from
// the store's list of messages changed since n (RFC 7162 §3.1.4.1), which
// is short when a client resynchronises often, instead of reading every
// message of the set. Messages that vanished cannot be told apart from
// unchanged ones here, so there is no [EXPUNGEISSUED] answer.
func (s *Session) fetchChangedRefs(uids []uint32, a *wire.FetchArgs) error {
	if len(uids) == 0 {
		return nil
	}
	refs, err := s.svc.Store.ChangedSince(s.ctx, s.user.ID, s.sel.id, a.ChangedSince)
	if err != nil {
		return fmt.Errorf("fetch changed since %d: %w", a.ChangedSince, err)
	}
	for i := range refs {
		uid := refs[i].UID
		if _, in := slices.BinarySearch(uids, uid); !in {
			continue
		}
		m := store.Message{MessageRef: refs[i]}
		if err := s.writeFetch(s.sel.seq(uid), &m, nil, a.Items, false); err != nil {
			return err
		}
	}
	return nil
}

// fetchRefs answers a FETCH of UID/FLAGS/MODSEQ only. It returns how many
// requested messages no longer exist.
func (s *Session) fetchRefs(uids []uint32, a *wire.FetchArgs) (int, error) {
	if len(uids) == 0 {
		return 0, nil
	}
	var refs []store.MessageRef
	var err error
	listAll := s.listAllRefs(len(uids))
	load := func(batch []uint32) error {
		if listAll {
			if refs == nil {
				refs, err = s.svc.Store.ListRefs(s.ctx, s.user.ID, s.sel.id)
				if err != nil {
					return fmt.Errorf("fetch: list messages: %w", err)
				}
				if refs == nil {
					refs = []store.MessageRef{}
				}
			}
			return nil
		}
		if rf, ok := s.svc.Store.(store.RefFetcher); ok {
			// The refs alone, from an index, not whole message records.
			if refs, err = rf.FetchRefs(s.ctx, s.user.ID, s.sel.id, storeSet(batch)); err != nil {
				return fmt.Errorf("fetch flags: %w", err)
			}
			return nil
		}
		msgs, err := s.svc.Store.Fetch(s.ctx, s.user.ID, s.sel.id, storeSet(batch), false)
		if err != nil {
			return fmt.Errorf("fetch flags: %w", err)
		}
		refs = refs[:0]
		for i := range msgs {
			refs = append(refs, msgs[i].MessageRef)
		}
		return nil
	}
	missing := 0
	// One record for every response: writeFetch takes a pointer, and a
	// record per message would be a heap allocation per message.
	var m store.Message
	for start := 0; start < len(uids); start += fetchRefBatch {
		batch := uids[start:min(start+fetchRefBatch, len(uids))]
		if err := load(batch); err != nil {
			return 0, err
		}
		j, _ := slices.BinarySearchFunc(refs, batch[0], func(r store.MessageRef, u uint32) int {
			return cmpUID(r.UID, u)
		})
		for _, uid := range batch {
			for j < len(refs) && refs[j].UID < uid {
				j++
			}
			if j == len(refs) || refs[j].UID != uid {
				missing++
				continue
			}
			if a.HasChangedSince && refs[j].ModSeq <= a.ChangedSince {
				continue
			}
			m.MessageRef = refs[j]
			if err := s.writeFetch(s.sel.seq(uid), &m, nil, a.Items, false); err != nil {
				return 0, err
			}
		}
	}
	return missing, nil
}

func cmpUID(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fetchMessages answers a FETCH that needs message records (and their part
// trees when p.meta). With markSeen, messages without \Seen get it before
// their response is written, and the response carries the new FLAGS
// (RFC 3501 §6.4.5).
func (s *Session) fetchMessages(uids []uint32, a *wire.FetchArgs, p fetchPlan, markSeen bool) (int, error) {
	batchSize := fetchRefBatch
	if p.meta {
		batchSize = fetchMetaBatch
	}
	missing := 0
	for start := 0; start < len(uids); start += batchSize {
		batch := uids[start:min(start+batchSize, len(uids))]
		msgs, err := s.svc.Store.Fetch(s.ctx, s.user.ID, s.sel.id, storeSet(batch), p.meta)
		if err != nil {
			return 0, fmt.Errorf("fetch messages: %w", err)
		}
		var seenNow map[uint32]bool
		if markSeen {
			if seenNow, err = s.markSeen(msgs); err != nil {
				return 0, err
			}
		}
		j := 0
		for _, uid := range batch {
			for j < len(msgs) && msgs[j].UID < uid {
				j++
			}
			if j == len(msgs) || msgs[j].UID != uid {
				missing++
				continue
			}
			m := &msgs[j]
			if a.HasChangedSince && m.ModSeq <= a.ChangedSince && !seenNow[uid] {
				continue
			}
			var meta *mimetree.Meta
			if p.meta {
				if meta, err = mail.Meta(m); err != nil {
					return 0, fmt.Errorf("fetch uid %d: %w", uid, err)
				}
			}
			if err := s.writeFetch(s.sel.seq(uid), m, meta, a.Items, seenNow[uid]); err != nil {
				return 0, err
			}
		}
	}
	return missing, nil
}

// markSeen sets \Seen on the messages of msgs that lack it, updates their
// Flags and ModSeq in place and returns the UIDs it changed. The FETCH
// responses written next carry the new flags, so the journal entry of
// this change is marked as reported.
func (s *Session) markSeen(msgs []store.Message) (map[uint32]bool, error) {
	var unseen []uint32
	for i := range msgs {
		if !slices.Contains(msgs[i].Flags, store.FlagSeen) {
			unseen = append(unseen, msgs[i].UID)
		}
	}
	if len(unseen) == 0 {
		return nil, nil
	}
	res, err := s.svc.StoreFlags(s.ctx, s.user.ID, s.sel.id, storeSet(unseen),
		store.FlagUpdate{Mode: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	if err != nil {
		return nil, fmt.Errorf("fetch: set \\Seen: %w", err)
	}
	changed := make(map[uint32]bool, len(res.Updated))
	for _, ref := range res.Updated {
		changed[ref.UID] = true
		s.sel.reported(ref.UID, ref.ModSeq)
		i, ok := slices.BinarySearchFunc(msgs, ref.UID, func(m store.Message, u uint32) int { return cmpUID(m.UID, u) })
		if ok {
			msgs[i].Flags = ref.Flags
			msgs[i].ModSeq = ref.ModSeq
		}
	}
	return changed, nil
}

// sectionData is the resolved content of one BODY[...]/RFC822* item:
// either a byte range of the raw message or bytes built in memory
// (HEADER.FIELDS), or nil when the section does not exist.
type sectionData struct {
	exists bool
	off, n int64  // range in the raw message (when mem == nil)
	mem    []byte // built content, partial already applied

	// BINARY (see fetch_binary.go): [off, off+n) is the encoded part, enc
	// its encoding ("" = identity); after decoding, skip bytes are dropped
	// and size bytes sent (size is also BINARY.SIZE, without partial).
	binary     bool
	enc        string
	skip, size int64
}

// writeFetch writes one "* seq FETCH (...)" response with the items in
// request order. flagsChanged adds FLAGS (and MODSEQ with CONDSTORE) when
// the items did not ask for them (RFC 3501 §6.4.5 implicit \Seen,
// RFC 7162 §3.1.4). Section contents are resolved before the first byte is
// written, so a store error there leaves the output clean; an error while
// streaming a literal breaks the response and closes the session.
func (s *Session) writeFetch(seq uint32, m *store.Message, meta *mimetree.Meta, items []wire.FetchItem, flagsChanged bool) error {
	var sections []sectionData // allocated only when a section is asked for
	for i, it := range items {
		switch it.Kind {
		case wire.FetchRFC822, wire.FetchRFC822Header, wire.FetchRFC822Text, wire.FetchBodySection,
			wire.FetchBinary, wire.FetchBinarySize:
			if sections == nil {
				sections = make([]sectionData, len(items))
			}
		}
		switch it.Kind {
		case wire.FetchRFC822, wire.FetchRFC822Header, wire.FetchRFC822Text, wire.FetchBodySection:
			sd, err := s.resolveSection(m, meta, it)
			if err != nil {
				return fmt.Errorf("fetch uid %d %s: %w", m.UID, it.ResponseName(), err)
			}
			sections[i] = sd
		case wire.FetchBinary, wire.FetchBinarySize:
			sd, err := s.resolveBinary(m, meta, it)
			if errors.Is(err, errUnknownCTE) {
				return no(wire.CodeUnknownCTE, "message %d: cannot decode %s", m.UID, it.ResponseName())
			}
			if err != nil {
				return fmt.Errorf("fetch uid %d %s: %w", m.UID, it.ResponseName(), err)
			}
			// BINARY.SIZE has no NIL form (RFC 3516 §4.2 grammar): a part
			// that does not exist has size 0, as Dovecot answers.
			sections[i] = sd
		}
	}
	w := s.w
	w.Raw("* ")
	w.Number(uint64(seq))
	w.Raw(" FETCH (")
	hasFlags, hasModSeq := false, false
	for i, it := range items {
		if i > 0 {
			w.SP()
		}
		switch it.Kind {
		case wire.FetchUID:
			w.Raw("UID ")
			w.Number(uint64(m.UID))
		case wire.FetchFlags:
			hasFlags = true
			w.Raw("FLAGS ")
			w.Flags(m.Flags)
		case wire.FetchModSeq:
			hasModSeq = true
			writeModSeq(w, m.ModSeq)
		case wire.FetchInternalDate:
			w.Raw(`INTERNALDATE "` + wire.FormatDateTime(m.InternalDate) + `"`)
		case wire.FetchRFC822Size:
			w.Raw("RFC822.SIZE ")
			w.Number(uint64(m.Size))
		case wire.FetchEnvelope:
			w.Raw("ENVELOPE ")
			w.Raw(meta.Envelope)
		case wire.FetchBody:
			w.Raw("BODY ")
			w.Raw(meta.Body)
		case wire.FetchBodyStructure:
			w.Raw("BODYSTRUCTURE ")
			w.Raw(meta.BodyStructure)
		case wire.FetchBinarySize:
			w.Raw(it.ResponseName())
			w.SP()
			w.Number(uint64(sections[i].size))
		case wire.FetchBinary:
			w.Raw(it.ResponseName())
			w.SP()
			if err := s.writeBinary(m, sections[i]); err != nil {
				return closeSession(fmt.Errorf("fetch uid %d %s: %w", m.UID, it.ResponseName(), err))
			}
		default:
			w.Raw(it.ResponseName())
			w.SP()
			if err := s.writeSection(m, sections[i]); err != nil {
				return closeSession(fmt.Errorf("fetch uid %d %s: %w", m.UID, it.ResponseName(), err))
			}
		}
	}
	if flagsChanged {
		if !hasFlags {
			w.Raw(" FLAGS ")
			w.Flags(m.Flags)
		}
		if s.condstore && !hasModSeq {
			w.SP()
			writeModSeq(w, m.ModSeq)
		}
	}
	w.Raw(")\r\n")
	return nil
}

// writeModSeq writes "MODSEQ (n)" (RFC 7162 §3.1.4.1).
func writeModSeq(w *wire.Writer, n uint64) {
	w.Raw("MODSEQ (")
	w.Number(n)
	w.Raw(")")
}

// writeSection writes a section's contents: NIL for a section that does
// not exist, "" when empty, else a literal streamed from the store.
func (s *Session) writeSection(m *store.Message, sd sectionData) error {
	switch {
	case !sd.exists:
		s.w.NIL()
		return nil
	case sd.mem != nil:
		if len(sd.mem) == 0 {
			s.w.Raw(`""`)
			return nil
		}
		return s.w.Literal(int64(len(sd.mem)), strings.NewReader(string(sd.mem)), false)
	case sd.n == 0:
		s.w.Raw(`""`)
		return nil
	}
	rc, err := s.svc.Store.OpenMessage(s.ctx, m, sd.off, sd.n)
	if err != nil {
		return err
	}
	defer rc.Close()
	return s.w.Literal(sd.n, rc, false)
}

// resolveSection finds what a section item returns (RFC 3501 §6.4.5).
// A section the message does not have (a part number beyond its parts,
// HEADER/TEXT of a part that is not message/rfc822) is NIL.
func (s *Session) resolveSection(m *store.Message, meta *mimetree.Meta, it wire.FetchItem) (sectionData, error) {
	sec := it.Section
	switch it.Kind {
	case wire.FetchRFC822: // = BODY[]
		sec = wire.Section{}
	case wire.FetchRFC822Header: // = BODY.PEEK[HEADER]
		sec = wire.Section{Specifier: wire.SpecHeader}
	case wire.FetchRFC822Text: // = BODY[TEXT]
		sec = wire.Section{Specifier: wire.SpecText}
	}
	part := partString(sec.Parts)
	spec := sec.Specifier
	filter := spec == wire.SpecHeaderFields || spec == wire.SpecHeaderFieldsNot
	if filter {
		spec = wire.SpecHeader
	}
	off, n, err := meta.SectionRange(part, spec)
	if errors.Is(err, mimetree.ErrNoSection) {
		return sectionData{}, nil
	}
	if err != nil {
		return sectionData{}, err
	}
	if !filter {
		off, n = applyPartial(off, n, it.Partial)
		return sectionData{exists: true, off: off, n: n}, nil
	}
	rc, err := s.svc.Store.OpenMessage(s.ctx, m, off, n)
	if err != nil {
		return sectionData{}, err
	}
	hdr, err := io.ReadAll(io.LimitReader(rc, n))
	rc.Close()
	if err != nil {
		return sectionData{}, fmt.Errorf("read header: %w", err)
	}
	out := filterHeader(hdr, sec.Fields, sec.Specifier == wire.SpecHeaderFieldsNot)
	o, k := applyPartial(0, int64(len(out)), it.Partial)
	return sectionData{exists: true, mem: out[o : o+k : o+k]}, nil
}

// partString formats a part path as mimetree expects it ("1.2.3").
func partString(parts []uint32) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatUint(uint64(p), 10))
	}
	return b.String()
}

// applyPartial narrows the range [off, off+n) to <origin.count>
// (RFC 3501 §6.4.5): an origin beyond the end gives an empty string.
func applyPartial(off, n int64, p *wire.Partial) (int64, int64) {
	if p == nil {
		return off, n
	}
	if p.Offset >= uint64(n) {
		return off + n, 0
	}
	rest := n - int64(p.Offset)
	if p.Count < uint64(rest) {
		rest = int64(p.Count)
	}
	return off + int64(p.Offset), rest
}

// filterHeader returns the header fields of hdr (a raw header block, its
// terminating blank line included) whose name is (not, when exclude) in
// names, compared case-insensitively, followed by the blank line
// (RFC 3501 §6.4.5: the delimiting blank line is part of every header
// fetch). Folded continuation lines stay with their field; bytes are kept
// exactly as stored.
func filterHeader(hdr []byte, names []string, exclude bool) []byte {
	out := make([]byte, 0, 256)
	i := 0
	for i < len(hdr) {
		if hdr[i] == '\n' || (hdr[i] == '\r' && i+1 < len(hdr) && hdr[i+1] == '\n') {
			return append(out, hdr[i:]...) // the blank line
		}
		end := lineEnd(hdr, i)
		for end < len(hdr) && (hdr[end] == ' ' || hdr[end] == '\t') {
			end = lineEnd(hdr, end)
		}
		field := hdr[i:end]
		name := field
		if c := strings.IndexByte(string(field), ':'); c >= 0 {
			name = field[:c]
		}
		name = []byte(strings.TrimRight(string(name), " \t"))
		match := false
		for _, n := range names {
			if strings.EqualFold(n, string(name)) {
				match = true
				break
			}
		}
		if match != exclude {
			out = append(out, field...)
		}
		i = end
	}
	return out
}

// lineEnd returns the index just after the line break of the line starting
// at i (or len(b) for a last line without one).
func lineEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		if b[i] == '\n' {
			return i + 1
		}
	}
	return len(b)
}
