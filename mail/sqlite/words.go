package sqlite

import (
	"hash/maphash"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The word splitter of the full-text index. It must split and fold text
// exactly as the FTS5 table's tokenizer (unicode61, remove_diacritics 0)
// does, because the word list fts_words is built from its output while the
// index itself is built by SQLite: a word the two disagree on would be
// unfindable. unicode61_table.go is generated from the bundled SQLite
// (TestUnicode61Table checks every code point; FuzzWords compares whole
// strings).

// asciiWord[c] reports whether ASCII byte c is part of a word.
var asciiWord [utf8.RuneSelf]bool

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiWord[c] = !unicode.Is(unicode61Separators, rune(c))
	}
}

// isWordRune reports whether unicode61 treats r as part of a word.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return !unicode.Is(unicode61Separators, r)
}

// isWordStart reports whether r can start a word: a word rune that is not
// a combining mark.
func isWordStart(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiWord[r]
	}
	return !unicode.Is(unicode61Separators, r) && !unicode.Is(unicode61Marks, r)
}

// foldRune is unicode61's case folding of a word rune (simple, one code
// point to one code point).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	if f, ok := unicode61Fold[r]; ok {
		return f
	}
	return r
}

// cleanText is the text the index stores for s: invalid UTF-8 becomes
// U+FFFD, so that SQLite and the Go splitter read the same code points.
func cleanText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// nextWord finds the first word of s at or after byte i: its span
// [start, end) and whether s[start:end] is already folded (plain). ok is
// false when no word is left.
func nextWord(s string, i int) (start, end int, plain, ok bool) {
	for i < len(s) { // skip separators
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiWord[c] {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isWordStart(r) {
			break
		}
		i += n
	}
	if i == len(s) {
		return 0, 0, false, false
	}
	start, plain = i, true
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if !asciiWord[c] {
				break
			}
			if 'A' <= c && c <= 'Z' {
				plain = false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordRune(r) {
			break
		}
		if foldRune(r) != r {
			plain = false
		}
		i += n
	}
	return start, i, plain, true
}

// forEachWord calls fn for each word of s (valid UTF-8, see cleanText) in
// order, with its folded form and its byte span [start, end) in s.
func forEachWord(s string, fn func(word string, start, end int)) {
	var b strings.Builder
	for start, end, plain, ok := nextWord(s, 0); ok; start, end, plain, ok = nextWord(s, end) {
		if plain {
			fn(s[start:end], start, end)
			continue
		}
		b.Reset()
		for _, r := range s[start:end] {
			b.WriteRune(foldRune(r))
		}
		fn(b.String(), start, end)
	}
}

// foldWord folds a single word (as forEachWord would).
func foldWord(w string) string {
	return strings.Map(foldRune, w)
}

// wordSet collects the distinct words of texts (split and folded as
// forEachWord does) in the order first seen, for the word-set index
// (fts_bag, indexer.go). A 200 KB text holds some 33,000 words and a few
// thousand distinct ones: the set is kept in an open-addressing table over
// one byte arena, so a repeated word costs a hash and a comparison, and
// no allocation.
type wordSet struct {
	seed maphash.Seed
	// arena holds each distinct word followed by one space: as a string it
	// is the text fts_bag indexes.
	arena []byte
	ents  []wordEnt
	// slots is the hash table: 0 is empty, i+1 refers to ents[i]. Its
	// length is a power of two, at least twice len(ents).
	slots   []uint32
	scratch []byte // the folded form of the current word, when it differs
}

type wordEnt struct {
	hash   uint64
	off, n uint32 // the word is arena[off : off+n]
}

func newWordSet() *wordSet {
	return &wordSet{seed: maphash.MakeSeed(), slots: make([]uint32, 1024)}
}

// reset empties the set, keeping its memory.
func (ws *wordSet) reset() {
	ws.arena, ws.ents = ws.arena[:0], ws.ents[:0]
	clear(ws.slots)
}

// String returns the distinct words, each followed by a space.
func (ws *wordSet) String() string { return string(ws.arena) }

// each calls fn for every distinct word, in the order first seen.
func (ws *wordSet) each(fn func(w string)) {
	for _, e := range ws.ents {
		fn(string(ws.arena[e.off : e.off+e.n]))
	}
}

// addText adds the words of s (valid UTF-8, see cleanText), split as
// forEachWord splits them (FuzzWordSet compares the two).
func (ws *wordSet) addText(s string) {
	for start, end, plain, ok := nextWord(s, 0); ok; start, end, plain, ok = nextWord(s, end) {
		if plain {
			w := s[start:end]
			ws.add(maphash.String(ws.seed, w), w)
			continue
		}
		ws.scratch = ws.scratch[:0]
		for _, r := range s[start:end] {
			ws.scratch = utf8.AppendRune(ws.scratch, foldRune(r))
		}
		ws.addBytes(maphash.Bytes(ws.seed, ws.scratch), ws.scratch)
	}
}

// add adds word w with hash h.
func (ws *wordSet) add(h uint64, w string) {
	mask := uint64(len(ws.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		k := ws.slots[j]
		if k == 0 {
			ws.insert(j, h, w)
			return
		}
		if e := ws.ents[k-1]; e.hash == h && string(ws.arena[e.off:e.off+e.n]) == w {
			return
		}
	}
}

// addBytes is add for a word in a byte slice (not kept).
func (ws *wordSet) addBytes(h uint64, w []byte) {
	mask := uint64(len(ws.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		k := ws.slots[j]
		if k == 0 {
			ws.insert(j, h, string(w))
			return
		}
		if e := ws.ents[k-1]; e.hash == h && string(ws.arena[e.off:e.off+e.n]) == string(w) {
			return
		}
	}
}

// insert stores w in empty slot j and grows the table past half full.
func (ws *wordSet) insert(j, h uint64, w string) {
	ws.ents = append(ws.ents, wordEnt{hash: h, off: uint32(len(ws.arena)), n: uint32(len(w))})
	ws.arena = append(append(ws.arena, w...), ' ')
	ws.slots[j] = uint32(len(ws.ents))
	if 2*len(ws.ents) <= len(ws.slots) {
		return
	}
	ws.slots = make([]uint32, 2*len(ws.slots))
	mask := uint64(len(ws.slots) - 1)
	for k, e := range ws.ents {
		j := e.hash & mask
		for ws.slots[j] != 0 {
			j = (j + 1) & mask
		}
		ws.slots[j] = uint32(k + 1)
	}
}
