package mail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/eidermail/eider/mail/mimetree"
	"github.com/eidermail/eider/mail/store"
	"github.com/microcosm-cc/bluemonday"
)

// HTML sanitizing for display in a browser. The policies start from
// bluemonday's user-generated-content policy, which keeps formatting,
// links, images and tables and drops scripts, event handlers, forms,
// <style>/<link> (external stylesheets), <iframe>/<object>/<embed>, and
// every URL scheme but the ones allowed below (so no javascript: or data:).
var (
	htmlRemote  = newHTMLPolicy(true)
	htmlBlocked = newHTMLPolicy(false)
)

func newHTMLPolicy(remoteImages bool) *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	// cid: (RFC 2392) stays valid until rewritten to the attachment URL.
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.RewriteSrc(func(u *url.URL) {
		switch {
		case u.Scheme == "cid":
			// A cid: that matched no attachment: nothing to load.
			*u = url.URL{}
		case !remoteImages && (u.Scheme != "" || u.Host != ""):
			// Remote content (a tracking pixel, say) is not loaded unless
			// the client asked for it.
			*u = url.URL{}
		}
	})
	return p
}

// SanitizeHTML makes one HTML body part safe to display. cids maps
// Content-IDs (without angle brackets) to the URLs that serve those
// attachments; "cid:" references to them are rewritten before sanitizing.
// With remoteImages false, sources on other hosts are emptied.
func SanitizeHTML(html string, cids map[string]string, remoteImages bool) string {
	if len(cids) > 0 && strings.Contains(html, "cid:") {
		// Longest first: the replacer tries pairs in argument order, and
		// "cid:ab" must not be taken for "cid:a" followed by "b".
		ids := slices.SortedFunc(maps.Keys(cids), func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(ids))
		for _, id := range ids {
			pairs = append(pairs, "cid:"+id, cids[id])
		}
		html = strings.NewReplacer(pairs...).Replace(html)
	}
	if remoteImages {
		return htmlRemote.Sanitize(html)
	}
	return htmlBlocked.Sanitize(html)
}

// viewSkip are the top-level Meta keys a message view (API message get)
// does not use: the MIME tree with its offsets and the IMAP ENVELOPE,
// BODYSTRUCTURE and BODY strings (mimetree.Meta's JSON names).
var viewSkip = map[string]bool{"root": true, "env": true, "bs": true, "body": true}

// ViewMeta decodes a stored message's Meta for display, without the MIME
// tree and the IMAP strings: Root, Envelope, BodyStructure and Body are
// left empty. The skipped values are stepped over by the byte scanner of
// Addresses (strings and nesting only) and never decoded; the rest is
// decoded by encoding/json as in Meta.
func ViewMeta(m *store.Message) (*mimetree.Meta, error) {
	b := m.Meta
	bad := func(err error) (*mimetree.Meta, error) {
		return nil, fmt.Errorf("message %s: decode meta: %w", m.ID, err)
	}
	kept := make([]byte, 0, len(b))
	kept = append(kept, '{')
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return bad(errors.New("not an object"))
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return bad(io.ErrUnexpectedEOF)
		}
		if b[i] == '}' {
			break
		}
		if b[i] != '"' {
			return bad(fmt.Errorf("offset %d: expected a key", i))
		}
		end, err := skipString(b, i)
		if err != nil {
			return bad(err)
		}
		key := b[i+1 : end-1]
		j := skipSpace(b, end)
		if j >= len(b) || b[j] != ':' {
			return bad(fmt.Errorf("offset %d: expected ':'", j))
		}
		vstart := skipSpace(b, j+1)
		vend, err := skipValue(b, vstart)
		if err != nil {
			return bad(err)
		}
		if !viewSkip[string(key)] {
			if len(kept) > 1 {
				kept = append(kept, ',')
			}
			kept = append(kept, b[i:vend]...)
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
	kept = append(kept, '}')
	var meta mimetree.Meta
	if err := json.Unmarshal(kept, &meta); err != nil {
		return bad(err)
	}
	return &meta, nil
}
