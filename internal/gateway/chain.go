package gateway

import (
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// chain assembles the gateway's middleware, outermost first. Each step runs only if every
// step above it let the request through.
func (g *Gateway) chain() http.Handler {
	return proxy.Chain(http.HandlerFunc(forward),
		proxy.RequestID(false),              // a fresh id at the edge, whatever the client sent
		proxy.Recover(g.log, g.decorate500), // JSON 500 instead of a dropped connection
		g.accessLog,                         // one JSON line per request, denials included
		g.securityHeaders,                   // HSTS, CSP, nosniff… on every response
		limitBody(MaxBodyBytes),             // 413 for bodies over 1 MiB
		proxy.Canonical,                     // 400 for paths with two readings
		stripIdentity,                       // no X-Bulwark-* header from a client survives
		g.routeRequest,                      // /oidc, then the first matching route; 404 otherwise
		g.authenticate,                      // 401 without a valid token (audited)
		g.authorize,                         // 403 without the route's roles/scopes (audited)
	) // forward: to the service's sidecar over mTLS, with verified identity headers
}

// decorate500 gives a recovered panic's 500 the same security headers as every response.
func (g *Gateway) decorate500(h http.Header, r *http.Request) {
	setSecurityHeaders(h, http.StatusInternalServerError, g.isOIDC(r.URL.Path))
}
