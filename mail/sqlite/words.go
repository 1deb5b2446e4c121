package sqlite

import (
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

// forEachWord calls fn for each word of s (valid UTF-8, see cleanText) in
// order, with its folded form and its byte span [start, end) in s.
func forEachWord(s string, fn func(word string, start, end int)) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		// Skip separators.
		c := s[i]
		if c < utf8.RuneSelf {
			if !asciiWord[c] {
				i++
				continue
			}
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !isWordStart(r) {
				i += n
				continue
			}
		}
		start := i
		plain := true // s[start:i] is already folded
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
		if plain {
			fn(s[start:i], start, i)
			continue
		}
		b.Reset()
		for _, r := range s[start:i] {
			b.WriteRune(foldRune(r))
		}
		fn(b.String(), start, i)
	}
}

// foldWord folds a single word (as forEachWord would).
func foldWord(w string) string {
	return strings.Map(foldRune, w)
}
