package mongo

import (
	"slices"
	"strings"
	"unicode"

	"github.com/eidermail/eider/mail/store"
)

func seen(fs []string) bool { return slices.Contains(fs, store.FlagSeen) }

// containsFold reports whether needle occurs in hay, ignoring case (simple
// per-character lowercase mapping, as the SQLite backend's search).
func containsFold(hay, needle string) bool {
	if needle == "" {
		return true
	}
	return strings.Contains(strings.Map(unicode.ToLower, hay), strings.Map(unicode.ToLower, needle))
}
