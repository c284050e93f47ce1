package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/policy"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// oidcPattern is reserved for the embedded identity provider; config validation refuses
// routes under it.
const oidcPattern = "/oidc/**"

// route is one entry of the routing table.
type route struct {
	name     string // "gateway.routes[0]", or "oidc" for the identity provider
	pattern  policy.Pattern
	auth     bool // a valid access token is required
	oidc     bool // the embedded identity provider: no authentication, Authorization kept
	upstream *proxy.Upstream
	maxBody  int64 // gateway.routes[].max_body_bytes, or 0 for the gateway's (limits.go)
	fold     bool  // case_insensitive: matched on, and forwarded as, the lower-cased path (pathcase.go)
}

// buildRoutes compiles cfg.Gateway.Routes (and /oidc when the embedded provider is used)
// and creates one mTLS upstream per peer. A route whose service has no peer address is a
// wiring error, reported here rather than as 502s later.
func (g *Gateway) buildRoutes(o Options) error {
	g.upstream = map[string]*proxy.Upstream{}
	peer := func(name string) (*proxy.Upstream, error) {
		if u, ok := g.upstream[name]; ok {
			return u, nil
		}
		addr, ok := o.Peers[name]
		if !ok || addr == "" {
			return nil, fmt.Errorf("gateway: no peer address for %q", name)
		}
		id, err := identity.ServiceID(g.cfg.TD, name)
		if err != nil {
			return nil, fmt.Errorf("gateway: peer %q: %w", name, err)
		}
		u, err := g.newUpstream(o, name, proxy.Peer{ID: id, Addr: addr})
		if err != nil {
			return nil, err
		}
		g.upstream[name] = u
		return u, nil
	}
	if g.cfg.Embedded() {
		u, err := peer(config.ControlName)
		if err != nil {
			return err
		}
		p, err := policy.ParsePattern(oidcPattern)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		g.oidc = &route{name: "oidc", pattern: p, oidc: true, upstream: u}
	}
	for i, r := range g.cfg.Gateway.Routes {
		p, err := policy.ParsePattern(r.Path)
		if err != nil {
			return fmt.Errorf("gateway: gateway.routes[%d].path: %w", i, err)
		}
		u, err := peer(r.Service)
		if err != nil {
			return fmt.Errorf("gateway: gateway.routes[%d]: %w", i, err)
		}
		name := config.RouteName(i)
		g.routes = append(g.routes, &route{name: name, pattern: p, auth: r.Auth != "none", upstream: u,
			maxBody: g.cfg.RouteMaxBodyBytes(i), fold: r.CaseInsensitive})
	}
	return nil
}

// match returns the route for the canonical path p: /oidc first, then the first configured
// route that matches (case-insensitive routes on the lower-cased path), or nil.
func (g *Gateway) match(p string) *route {
	rt, _ := g.matchPath(p)
	return rt
}

// routeRequest picks the route, or answers 404.
func (g *Gateway) routeRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := g.resolve(w, r)
		if !ok {
			return
		}
		pattern := rt.pattern.String()
		if info := infoFrom(r.Context()); info != nil {
			info.route = pattern
		}
		tracing.SetRoute(r.Context(), r.Method, pattern)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
	})
}

// forward is the end of the chain: the route's reverse proxy.
func forward(w http.ResponseWriter, r *http.Request) {
	rt := routeFrom(r.Context())
	if rt == nil {
		proxy.WriteError(w, r, http.StatusNotFound, proxy.CodeNotFound, "no route for this path")
		return
	}
	rt.upstream.Proxy.ServeHTTP(w, r)
}

type (
	routeKey     struct{}
	principalKey struct{}
	infoKey      struct{}
)

func routeFrom(ctx context.Context) *route {
	rt, _ := ctx.Value(routeKey{}).(*route)
	return rt
}

func withPrincipal(ctx context.Context, p authn.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

func principalFrom(ctx context.Context) (*authn.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*authn.Principal)
	return p, ok && p != nil
}

// requestInfo is filled in by inner middleware for the access log, which runs outside them
// and so cannot see their contexts.
type requestInfo struct {
	route string
	user  string
}

func infoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}
