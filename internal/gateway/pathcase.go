package gateway

import (
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Case-insensitive routes (gateway.routes[].case_insensitive) exist for services that
// treat paths case-insensitively, where "/API/Accounts" and "/api/accounts" are one
// resource. Matching such a route case-insensitively while forwarding the client's
// spelling would let routing, policy and the service each read a different string, so the
// gateway instead decides on the lower-cased path and forwards exactly that: the router
// matched it, authentication, rate limits, policy and audit see it (r.URL.Path), and the
// service receives it. Two more rules keep that one string unambiguous:
//
//   - Only ASCII letters are folded, and a path with any non-ASCII byte is refused on a
//     case-insensitive route: Unicode case mappings differ between implementations (the
//     Kelvin sign K lower-cases to "k" in some, not in others), so a service could fold a
//     spelling the gateway did not.
//   - The lower-cased path must route, on its own, to the same route. Otherwise a
//     case-sensitive route earlier in the table, written for exactly that lower-case
//     path, would be reached through a case-insensitive one with other requirements.

// matchPath returns the route for the canonical path p and the path that route is decided
// on: p itself, or its ASCII lower-case form for a case-insensitive route.
func (g *Gateway) matchPath(p string) (*route, string) {
	if g.oidc != nil && g.oidc.pattern.Match(p) {
		return g.oidc, p
	}
	lower := ""
	for _, rt := range g.routes {
		candidate := p
		if rt.fold {
			if lower == "" {
				lower = asciiLower(p)
			}
			candidate = lower
		}
		if rt.pattern.Match(candidate) {
			return rt, candidate
		}
	}
	return nil, ""
}

// resolve picks r's route and, for a case-insensitive route, replaces r's path with the
// lower-cased one that every later step and the service see. It answers 404 when nothing
// matches and 400 when a case-insensitive match would be ambiguous.
func (g *Gateway) resolve(w http.ResponseWriter, r *http.Request) (*route, bool) {
	p := r.URL.Path
	rt, decided := g.matchPath(p)
	if rt == nil {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no route for this path")
		return nil, false
	}
	if rt.fold && !isASCII(p) {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "a case-insensitive route accepts ASCII paths only")
		return nil, false
	}
	if decided == p {
		return rt, true
	}
	if again, _ := g.matchPath(decided); again != rt {
		proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, "path is not canonical: its lower-case spelling belongs to another route")
		return nil, false
	}
	r.URL.Path = decided
	r.URL.RawPath = "" // forwarded as the canonical escaping of exactly this path
	return rt, true
}

// asciiLower lower-cases A-Z and leaves every other byte alone.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
