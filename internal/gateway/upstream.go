package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"strings"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// upstream is one peer sidecar (or the control plane): its own mTLS transport, so
// connections to one peer are pooled apart from the others, behind its own timeout, retry
// budget, concurrency cap and circuit breaker (proxy.Resilient), and its reverse proxy.
type upstream struct {
	transport  *http.Transport
	resilience *proxy.Resilient
	proxy      *httputil.ReverseProxy
}

// newUpstream builds the upstream for peer. A resilience setting it cannot use is recorded
// in g.setupErr, which New reports.
func (g *Gateway) newUpstream(o Options, peer proxy.Peer) *upstream {
	t := proxy.NewMTLSTransport(o.SVID, o.Bundle, peer)
	name, res := g.resilienceFor(peer)
	// Up to max_concurrent requests are in flight to the peer, each on its own connection:
	// keep that many, so that a burst within the cap reuses them instead of handshaking.
	t.MaxIdleConns, t.MaxIdleConnsPerHost = res.MaxConcurrent, res.MaxConcurrent
	rt, err := proxy.NewResilient(g.tracer.Transport(t, name), proxy.ResilienceOptions{
		Name:          name,
		Timeout:       res.Timeout,
		Retries:       res.Retries,
		MaxConcurrent: res.MaxConcurrent,
		Breaker: proxy.BreakerOptions{
			FailureRatio: res.Breaker.FailureRatio,
			MinRequests:  res.Breaker.MinRequests,
			OpenFor:      res.Breaker.OpenFor,
		},
		Log:           g.log,
		OnStateChange: g.metrics.BreakerChanged, // nil-safe
	})
	if err != nil {
		g.setupErr = append(g.setupErr, fmt.Errorf("gateway: peer %q: %w", name, err))
		return &upstream{transport: t, proxy: proxy.NewReverseProxy(g.log, t, peer, rewrite)}
	}
	rp := proxy.NewReverseProxy(g.log, rt, peer, rewrite)
	rp.ErrorLog = slog.NewLogLogger(g.log.Handler(), slog.LevelWarn)
	upstreamError := rp.ErrorHandler
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A body that outgrew the route's max_body_bytes while streaming (no
		// Content-Length) surfaces here, as the transport's error.
		if mb, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeTooLarge(w, r, mb.Limit)
			return
		}
		// An open breaker or a full upstream: 503 with Retry-After, not logged per
		// request (breaker state changes are).
		if proxy.WriteUpstreamError(w, r, err) {
			return
		}
		upstreamError(w, r, err) // 504 on timeout, 502 otherwise; logged
	}
	return &upstream{transport: t, resilience: rt, proxy: rp}
}

// resilienceFor returns the peer's name and its services[].resilience; the control plane,
// which has no services entry, gets the defaults.
func (g *Gateway) resilienceFor(peer proxy.Peer) (string, config.Resilience) {
	for _, s := range g.cfg.Services {
		if s.ID == peer.ID {
			return s.Name, s.Resilience
		}
	}
	return strings.TrimPrefix(peer.ID.Path(), "/svc/"), config.DefaultResilience()
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
