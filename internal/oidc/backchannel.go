package oidc

import (
	"net/http"
	"slices"
)

// Endpoints that take or return credentials and tokens, relative to the issuer's path.
const (
	tokenPath      = "/oauth/token"
	revokePath     = "/revoke"
	introspectPath = "/oauth/introspect"
	userinfoPath   = "/userinfo"
)

// backchannel reports whether rest names an endpoint whose answers hold tokens or whose
// requests hold credentials.
func backchannel(rest string) bool {
	return slices.Contains([]string{tokenPath, revokePath, introspectPath, userinfoPath}, rest)
}

// guardBackchannel keeps credentials out of URLs and tokens out of caches: the answers of
// these endpoints must not be stored (RFC 6749 section 5.1, RFC 7662 section 2.2); the
// token, revocation and introspection endpoints take POST only (RFC 6749 section 3.2);
// and none of them takes parameters in the query string, where a client secret, code or
// token would end up in access logs, proxies and browser history (RFC 6749 section
// 2.3.1, RFC 6750 section 2.3). It reports whether the request may go on to the op.
func guardBackchannel(w http.ResponseWriter, r *http.Request, rest string) bool {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if rest != userinfoPath && r.Method != http.MethodPost {
		h.Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST with the parameters in the request body")
		return false
	}
	if r.URL.RawQuery != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send parameters in the request body or the Authorization header, never in the URL")
		return false
	}
	return true
}

// writeOAuthError answers with an RFC 6749 section 5.2 error; code and description are
// fixed strings, so they need no JSON escaping.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + description + `"}`))
}
