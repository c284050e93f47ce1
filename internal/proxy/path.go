package proxy

import (
	"errors"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrNonCanonicalPath is returned for paths that could be read two ways.
var ErrNonCanonicalPath = errors.New("path is not canonical: dot segments, doubled slashes, a trailing slash, encoded slashes or dots, backslashes, semicolons, control characters and invalid UTF-8 are refused")

// CanonicalPath returns the request's path if it has exactly one reading, and an error
// otherwise. Routing and policy only ever see the returned path, so no spelling of a path
// can reach a rule written for another one.
func CanonicalPath(r *http.Request) (string, error) {
	p := r.URL.Path
	raw := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		return "", ErrNonCanonicalPath
	}
	// The decoded path is checked too: "%252f" decodes to a literal "%2f", which an app
	// that decodes once more reads as a slash.
	if hasEncodedSeparator(raw) || hasEncodedSeparator(p) {
		return "", ErrNonCanonicalPath
	}
	// ";" is refused because servlet containers read "/a/..;/b" as "/a/../b" (path
	// parameters), which would let a path match one route here and reach another there.
	if strings.ContainsFunc(p, func(c rune) bool { return c == '\\' || c == ';' || c < 0x20 || c == 0x7f }) {
		return "", ErrNonCanonicalPath
	}
	// Bytes that are not UTF-8 once decoded ("%ff") have no one reading either: logs, audit
	// records (JSON) and policy strings would each replace or escape them differently.
	if !utf8.ValidString(p) {
		return "", ErrNonCanonicalPath
	}
	// A trailing slash is refused too: Express, Rails, Django (APPEND_SLASH) and older
	// Spring read "/a/b/" as "/a/b", others as another resource, and a policy pattern
	// "/a/*" does not match "/a/b/" — so "/api/accounts/A-1002/" would slip past a
	// forbid written for "/api/accounts/*" and reach an app that serves A-1002.
	if path.Clean(p) != p {
		return "", ErrNonCanonicalPath
	}
	return p, nil
}

func hasEncodedSeparator(s string) bool {
	lower := strings.ToLower(s)
	return strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(lower, "%2e") || strings.Contains(lower, "%00")
}
