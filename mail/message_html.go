package mail

import (
	"maps"
	"net/url"
	"slices"
	"strings"

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
