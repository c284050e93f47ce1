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
		g.traceRequest,                      // a span per request; the client's traceparent dropped unless trusted
		proxy.Recover(g.log, g.decorate500), // JSON 500 instead of a dropped connection
		g.accessLog,                         // one JSON line per request, denials included
		g.instrument,                        // request count and latency by route pattern and status
		g.securityHeaders,                   // HSTS, CSP, nosniff… on every response
		g.limitInFlight,                     // 503 beyond gateway.rate_limit.max_in_flight
		g.limitRequest,                      // 414 over gateway.limits.max_url_bytes, 431 over max_header_bytes
		proxy.Canonical,                     // 400 for paths with two readings
		proxy.RefuseUpgrade,                 // 501: no WebSocket or h2c tunnel past the checks below
		stripIdentity,                       // no X-Bulwark-* header from a client survives
		g.routeRequest,                      // /oidc, then the first matching route; 404 otherwise
		g.filterSource,                      // 403 for a client address the route's ips exclude (audited)
		g.handleCORS,                        // preflights answered here, without a token; CORS headers
		g.allowMethods,                      // 405 with Allow for a method not in the route's methods (audited)
		g.limitBody,                         // 413 over the route's max_body_bytes
		g.authenticate,                      // 401 without a valid token (audited)
		g.rateLimit,                         // 429 over the route's rate limit (audited)
		g.authorize,                         // 403 unless Cedar permits: route rules and operator policies (audited)
		g.validateRequest,                   // 400 for a request its route's OpenAPI document refuses (audited)
	) // forward: to the service's sidecar over mTLS, with verified identity headers
}

// decorate500 gives a recovered panic's 500 the same security headers as every response.
func (g *Gateway) decorate500(h http.Header, r *http.Request) {
	setSecurityHeaders(h, http.StatusInternalServerError, g.isOIDC(r.URL.Path))
}
