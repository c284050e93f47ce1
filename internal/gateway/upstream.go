package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// upstream is one peer sidecar (or the control plane): its own mTLS transport, so
// connections to one peer are pooled apart from the others, and its reverse proxy.
type upstream struct {
	transport *http.Transport
	proxy     *httputil.ReverseProxy
}

func (g *Gateway) newUpstream(o Options, peer proxy.Peer) *upstream {
	t := proxy.NewMTLSTransport(o.SVID, o.Bundle, peer)
	rp := proxy.NewReverseProxy(g.log, t, peer, rewrite)
	rp.ErrorLog = slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)
	upstreamError := rp.ErrorHandler
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A body that outgrew MaxBodyBytes while streaming (no Content-Length) surfaces
		// here, as the transport's error.
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeTooLarge(w, r)
			return
		}
		upstreamError(w, r, err)
	}
	return &upstream{transport: t, proxy: rp}
}

// rewrite sets what the sidecar may trust about the request. It runs after hop-by-hop
// headers are removed, so a client's Connection header cannot drop what it sets.
func rewrite(pr *httputil.ProxyRequest) {
	ctx := pr.In.Context()
	h := pr.Out.Header
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
