package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// newUpstream builds the upstream for the peer called name, with its
// services[].resilience (the control plane, which has none, gets the defaults).
func (g *Gateway) newUpstream(o Options, name string, peer proxy.Peer) (*proxy.Upstream, error) {
	res := g.cfg.UpstreamResilience(name).ProxyOptions(name)
	res.Log, res.OnStateChange = g.log, g.metrics.BreakerChanged // nil-safe
	u, err := proxy.NewUpstream(proxy.UpstreamOptions{
		Peer: peer, SVID: o.SVID, Bundle: o.Bundle, Resilience: res,
		Trace: g.tracer.Transport, Rewrite: rewrite,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	upstreamError := u.Proxy.ErrorHandler
	u.Proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A body that outgrew the route's max_body_bytes while streaming (no
		// Content-Length) surfaces here, as the transport's error.
		if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeTooLarge(w, r, mb.Limit)
			return
		}
		upstreamError(w, r, err) // 503 when refused, 504 on timeout, 502 otherwise
	}
	return u, nil
}

// rewrite sets what the sidecar may trust about the request. It runs after hop-by-hop
// headers are removed, so a client's Connection header cannot drop what it sets.
func rewrite(pr *httputil.ProxyRequest) {
	ctx := pr.In.Context()
	h := pr.Out.Header
	proxy.StripForwardingHeaders(h) // the client's copies, in spellings ReverseProxy keeps
	pr.SetXForwarded()
	proxy.StripIdentityHeaders(h)
	h.Set(proxy.HeaderRequestID, proxy.RequestIDFrom(ctx))
	if rt := routeFrom(ctx); rt == nil || !rt.oidc {
		// Apps get the verified identity headers below instead of the token; only the
		// identity provider needs Authorization (client authentication, userinfo).
		h.Del("Authorization")
	}
	if p, ok := principalFrom(ctx); ok {
		h.Set(proxy.HeaderUser, p.Subject)
		if len(p.Roles) > 0 {
			h.Set(proxy.HeaderRoles, strings.Join(p.Roles, ","))
		}
		if len(p.Scopes) > 0 {
			h.Set(proxy.HeaderScopes, strings.Join(p.Scopes, " "))
		}
	}
}
