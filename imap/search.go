package imap

import (
	"fmt"
	"slices"

	"github.com/eidermail/eider/imap/wire"
	"github.com/eidermail/eider/mail/store"
)

// SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8), with MODSEQ
// (RFC 7162 §3.1.5), ESEARCH return options (RFC 4731 §3.1) and SAVE
// (RFC 5182).
//
// The parsed search program is translated into one store.Criteria and run
// by the store (full-text index for TEXT/BODY). Sequence-number keys are
// turned into UIDs against the session's snapshot, and the result is cut
// down to the messages of the snapshot: a message that arrived after the
// last EXISTS the client saw is not reported (its sequence number does not
// exist yet for the client).
//
// \Recent is not kept (RFC 9051 dropped it): RECENT and NEW match nothing,
// OLD matches everything.

func init() {
	register("SEARCH", handler{fn: (*Session).search, states: inSelected, noExpunge: true})
	advertise("ESEARCH", "SEARCHRES")
}

// searchCharsets are the charsets SEARCH accepts (RFC 3501 §6.4.4: US-ASCII
// is required; UTF-8 is what the store holds).
var searchCharsets = []string{"UTF-8", "US-ASCII"}

// searchState collects, while translating, whether the program uses MODSEQ
// (the answer then carries the highest mod-sequence, RFC 7162 §3.1.5).
type searchState struct {
	modSeq bool
}

func (s *Session) search(cmd *wire.Command) error {
	a := cmd.Args.(*wire.SearchArgs)
	saving := slices.Contains(a.Return, wire.SearchReturnSave)
	if a.Charset != "" && !slices.Contains(searchCharsets, a.Charset) {
		if saving {
			s.setSaved(nil) // RFC 5182 §2.1: a failed SAVE empties "$"
		}
		return no(wire.CodeBadCharset(searchCharsets...), "unsupported charset %s", a.Charset)
	}
	var st searchState
	c := &store.Criteria{}
	if err := s.searchKey(a.Criteria, c, &st); err != nil {
		if saving {
			s.setSaved(nil)
		}
		return err
	}
	if st.modSeq {
		s.enableCondstore() // RFC 7162 §3.1
	}
	found, err := s.svc.Store.Search(s.ctx, s.user.ID, s.sel.id, c)
	if err != nil {
		if saving {
			s.setSaved(nil)
		}
		return fmt.Errorf("search: %w", err)
	}
	uids := s.sel.filter(found)
	var modSeq uint64
	if st.modSeq && len(uids) > 0 {
		if modSeq, err = s.highestModSeq(uids); err != nil {
			return err
		}
	}
	nums := uids
	if !cmd.UID {
		nums = make([]uint32, len(uids))
		for i, u := range uids {
			nums[i] = s.sel.seq(u)
		}
	}
	if a.Return == nil {
		s.w.Search(nums, modSeq)
		return nil
	}
	s.esearch(cmd, a.Return, uids, nums, modSeq)
	return nil
}

// esearch answers SEARCH RETURN (...) (RFC 4731 §3.1) and records the
// SAVE result (RFC 5182 §2.1).
func (s *Session) esearch(cmd *wire.Command, ret []wire.SearchReturn, uids, nums []uint32, modSeq uint64) {
	has := func(o wire.SearchReturn) bool { return slices.Contains(ret, o) }
	if has(wire.SearchReturnSave) {
		saved := uids
		// RFC 5182 §2.1: with MIN and/or MAX but neither ALL nor COUNT,
		// only those are saved.
		if !has(wire.SearchReturnAll) && !has(wire.SearchReturnCount) &&
			(has(wire.SearchReturnMin) || has(wire.SearchReturnMax)) && len(uids) > 0 {
			saved = nil
			if has(wire.SearchReturnMin) {
				saved = append(saved, uids[0])
			}
			if has(wire.SearchReturnMax) && (len(saved) == 0 || saved[0] != uids[len(uids)-1]) {
				saved = append(saved, uids[len(uids)-1])
			}
		}
		s.setSaved(slices.Clone(saved))
		if len(ret) == 1 {
			return // RFC 5182 §2.1: SAVE alone gets no ESEARCH response
		}
	}
	d := wire.ESearchData{Tag: cmd.Tag, UID: cmd.UID, ModSeq: modSeq}
	if len(nums) > 0 {
		if has(wire.SearchReturnMin) {
			d.Min = nums[0]
		}
		if has(wire.SearchReturnMax) {
			d.Max = nums[len(nums)-1]
		}
		if has(wire.SearchReturnAll) {
			d.All = wire.NumSetOf(nums...)
		}
	}
	if has(wire.SearchReturnCount) {
		d.Count, d.HasCount = uint32(len(nums)), true
	}
	s.w.ESearch(d)
}

// highestModSeq returns the largest MODSEQ among the messages (RFC 7162
// §3.1.5: the SEARCH response carries it).
func (s *Session) highestModSeq(uids []uint32) (uint64, error) {
	var max uint64
	for start := 0; start < len(uids); start += fetchRefBatch {
		batch := uids[start:min(start+fetchRefBatch, len(uids))]
		msgs, err := s.svc.Store.Fetch(s.ctx, s.user.ID, s.sel.id, storeSet(batch), false)
		if err != nil {
			return 0, fmt.Errorf("search: read mod-sequences: %w", err)
		}
		for i := range msgs {
			max = maxU64(max, msgs[i].ModSeq)
		}
	}
	return max, nil
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// matchNone makes c match no message (NOT of the empty criteria, which
// matches every message).
func matchNone(c *store.Criteria) { c.Not = append(c.Not, store.Criteria{}) }

// andSub adds sub to c as a conjunct, through a double negation (c.Not of
// a criteria whose Not is sub) when c's own field is already taken.
func andSub(c *store.Criteria, sub store.Criteria) {
	c.Not = append(c.Not, store.Criteria{Not: []store.Criteria{sub}})
}

// searchKey ANDs the search key k into c (RFC 3501 §6.4.4).
func (s *Session) searchKey(k *wire.SearchKey, c *store.Criteria, st *searchState) error {
	switch k.Op {
	case wire.SearchAll:
	case wire.SearchAnd:
		for _, ch := range k.Children {
			if err := s.searchKey(ch, c, st); err != nil {
				return err
			}
		}
	case wire.SearchOr:
		var l, r store.Criteria
		if err := s.searchKey(k.Children[0], &l, st); err != nil {
			return err
		}
		if err := s.searchKey(k.Children[1], &r, st); err != nil {
			return err
		}
		c.Or = append(c.Or, [2]store.Criteria{l, r})
	case wire.SearchNot:
		ch := k.Children[0]
		if ch.Op == wire.SearchFlag {
			if ch.Flag == `\Recent` {
				return nil // NOT RECENT (OLD): every message
			}
			c.NotFlag = append(c.NotFlag, ch.Flag)
			return nil
		}
		var sub store.Criteria
		if err := s.searchKey(ch, &sub, st); err != nil {
			return err
		}
		c.Not = append(c.Not, sub)
	case wire.SearchSeqSet:
		uids, err := s.searchSeqSet(k.Set)
		if err != nil {
			return err
		}
		restrictUIDs(c, uids)
	case wire.SearchUID:
		restrictUIDs(c, s.uidSetUIDs(k.Set))
	case wire.SearchFlag:
		if k.Flag == `\Recent` {
			matchNone(c) // \Recent is never set
			return nil
		}
		c.Flag = append(c.Flag, k.Flag)
	case wire.SearchHeader:
		c.Header = append(c.Header, store.Header{Key: k.Field, Value: k.Value})
	case wire.SearchBody:
		c.Body = append(c.Body, k.Value)
	case wire.SearchText:
		c.Text = append(c.Text, k.Value)
	case wire.SearchBefore, wire.SearchOn, wire.SearchSince,
		wire.SearchSentBefore, wire.SearchSentOn, wire.SearchSentSince:
		setDate(c, k)
	case wire.SearchLarger:
		switch {
		case k.Size == 0: // every stored message has at least one octet
		case c.Larger != 0:
			andSub(c, store.Criteria{Larger: int64(k.Size)})
		default:
			c.Larger = int64(k.Size)
		}
	case wire.SearchSmaller:
		if k.Size == 0 {
			matchNone(c) // no message is smaller than 0 octets
			return nil
		}
		if c.Smaller != 0 {
			andSub(c, store.Criteria{Smaller: int64(k.Size)})
			return nil
		}
		c.Smaller = int64(k.Size)
	case wire.SearchModSeq:
		// RFC 7162 §3.1.5: a server that keeps one mod-sequence per
		// message ignores the entry name and type.
		st.modSeq = true
		c.ModSeq = maxU64(c.ModSeq, k.ModSeq)
	case wire.SearchOlder, wire.SearchYounger:
		return bad("", "OLDER and YOUNGER (WITHIN) are not supported")
	default:
		return bad("", "unsupported search key")
	}
	return nil
}

// searchSeqSet resolves a sequence set in a search key. Unlike FETCH, a
// number beyond the mailbox is not an error here: it matches nothing
// (RFC 3501 §6.4.4 defines keys as matching messages).
func (s *Session) searchSeqSet(set wire.NumSet) ([]uint32, error) {
	if set.Saved {
		return s.seqSetUIDs(set)
	}
	n := s.sel.count()
	var out []uint32
	for _, rg := range set.Resolve(n) {
		if rg.Start > n {
			continue
		}
		out = append(out, s.sel.uids()[rg.Start-1:min(rg.Stop, n)]...)
	}
	return out, nil
}

// restrictUIDs ANDs "UID in uids" into c.
func restrictUIDs(c *store.Criteria, uids []uint32) {
	switch {
	case len(uids) == 0:
		matchNone(c)
	case len(c.UID) == 0:
		c.UID = storeSet(uids)
	default:
		andSub(c, store.Criteria{UID: storeSet(uids)})
	}
}

// setDate ANDs a date key into c, nesting it when the field is taken.
func setDate(c *store.Criteria, k *wire.SearchKey) {
	var sub store.Criteria
	target := c
	taken := false
	switch k.Op {
	case wire.SearchBefore:
		taken = !c.Before.IsZero()
	case wire.SearchOn:
		taken = !c.On.IsZero()
	case wire.SearchSince:
		taken = !c.Since.IsZero()
	case wire.SearchSentBefore:
		taken = !c.SentBefore.IsZero()
	case wire.SearchSentOn:
		taken = !c.SentOn.IsZero()
	case wire.SearchSentSince:
		taken = !c.SentSince.IsZero()
	}
	if taken {
		target = &sub
	}
	switch k.Op {
	case wire.SearchBefore:
		target.Before = k.Date
	case wire.SearchOn:
		target.On = k.Date
	case wire.SearchSince:
		target.Since = k.Date
	case wire.SearchSentBefore:
		target.SentBefore = k.Date
	case wire.SearchSentOn:
		target.SentOn = k.Date
	case wire.SearchSentSince:
		target.SentSince = k.Date
	}
	if taken {
		andSub(c, sub)
	}
}
