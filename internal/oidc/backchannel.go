package oidc

import (
	"net/http"
	"net/url"
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
	if rest != userinfoPath {
		if msg := clientAuthConflict(r); msg != "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", msg)
			return false
		}
	}
	return true
}

// clientAuthConflict returns why a request does not authenticate its client one way only
// (RFC 6749 section 2.3.1), or "". The op takes the client from the Authorization header
// when there is one and the rest from the body, so HTTP Basic for one client next to
// another's client_id in the body must never reach it. A parameter sent twice is refused
// too (RFC 6749 section 3.2).
func clientAuthConflict(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return "the request body could not be read as a form"
	}
	form := r.PostForm
	for _, k := range []string{"client_id", "client_secret", "client_assertion"} {
		if len(form[k]) > 1 {
			return k + " is sent more than once"
		}
	}
	id, _, basic := r.BasicAuth()
	methods := 0
	for _, used := range []bool{basic, form.Has("client_secret"), form.Has("client_assertion")} {
		if used {
			methods++
		}
	}
	if methods > 1 {
		return "use one client authentication method: HTTP Basic, or client_id and client_secret in the body, not both"
	}
	if basic && form.Has("client_id") {
		// The op form-decodes the Basic credentials (RFC 6749 section 2.3.1).
		if id, err := url.QueryUnescape(id); err != nil || id != form.Get("client_id") {
			return "client_id in the body names another client than the Authorization header"
		}
	}
	return ""
}

// writeOAuthError answers with an RFC 6749 section 5.2 error; code and description are
// fixed strings, so they need no JSON escaping.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + description + `"}`))
}
