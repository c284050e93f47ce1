package gateway

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/rs/cors"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Audit kinds, error codes and public reasons of the route guards.
const (
	kindSource     = "source"     // a client address refused by a route's ips lists
	kindMethod     = "method"     // a method the route (or its API document) does not accept
	kindValidation = "validation" // a request that does not match the route's API document

	codeInvalidRequest = "invalid_request"

	reasonSourceDenied = "the client address may not use this route"
	reasonMethod       = "method not allowed on this route"

	reasonMethodUnsupported = "the gateway forwards only the methods listed in Allow, in upper case"
)

// routeGuard holds what a route checks besides the token: client addresses, CORS, methods
// and the OpenAPI document. It is derived from the config alone (buildGuards), so a
// reload rebuilds it with the rest of the generation.
type routeGuard struct {
	name    string   // the route's name, e.g. gateway.routes[1]
	methods []string // nil: any method
	allow   string   // the Allow header of a 405
	cors    *cors.Cors
	allowIP []netip.Prefix
	denyIP  []netip.Prefix
	api     *apiValidator // nil: no document
}

// buildGuards compiles every route's guard, keyed by route name. Routes without any
// setting get none.
func buildGuards(cfg *config.Config) (map[string]*routeGuard, error) {
	guards := map[string]*routeGuard{}
	for i, r := range cfg.Gateway.Routes {
		name := config.RouteName(i)
		g := &routeGuard{name: name, methods: r.Methods, allow: strings.Join(r.Methods, ", "),
			allowIP: r.IPs.AllowPrefixes, denyIP: r.IPs.DenyPrefixes}
		if r.CORS.Enabled() {
			g.cors = cors.New(cors.Options{
				AllowedOrigins:   r.CORS.Origins,
				AllowedMethods:   r.CORS.Methods,
				AllowedHeaders:   r.CORS.Headers,
				AllowCredentials: r.CORS.Credentials,
				MaxAge:           int(r.CORS.MaxAge.Seconds()),
			})
		}
		if r.API != nil {
			v, err := newAPIValidator(r.API)
			if err != nil {
				return nil, fmt.Errorf("gateway: %s.openapi: %w", name, err)
			}
			g.api = v
		}
		if g.methods != nil || g.cors != nil || len(g.allowIP) > 0 || len(g.denyIP) > 0 || g.api != nil {
			guards[name] = g
		}
	}
	return guards, nil
}

// guardFor returns the guard of the request's route, or nil.
func (g *Gateway) guardFor(r *http.Request) *routeGuard {
	rt := routeFrom(r.Context())
	if rt == nil || rt.oidc {
		return nil
	}
	return g.guards[rt.name]
}

// filterSource refuses, with 403 and an audit event, a client whose address the route's
// ips lists exclude. The address is the TCP peer's: headers such as X-Forwarded-For are
// not trusted. It runs right after routing, before CORS and authentication, so a refused
// address learns nothing more about the route.
func (g *Gateway) filterSource(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gd := g.guardFor(r)
		if gd == nil || (len(gd.allowIP) == 0 && len(gd.denyIP) == 0) {
			next.ServeHTTP(w, r)
			return
		}
		if rule, ok := gd.sourceAllowed(peerAddr(r.RemoteAddr)); !ok {
			if !g.record(w, r, audit.Event{Kind: kindSource, Outcome: audit.Deny, Reason: reasonSourceDenied, Rule: rule}) {
				return
			}
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, reasonSourceDenied)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sourceAllowed applies the deny list, then the allow list; it names the deciding entry.
// An address that cannot be read is refused.
func (gd *routeGuard) sourceAllowed(a netip.Addr) (rule string, ok bool) {
	if !a.IsValid() {
		return gd.name + ".ips", false
	}
	for j, p := range gd.denyIP {
		if p.Contains(a) {
			return fmt.Sprintf("%s.ips.deny[%d]", gd.name, j), false
		}
	}
	if len(gd.allowIP) == 0 {
		return "", true
	}
	for _, p := range gd.allowIP {
		if p.Contains(a) {
			return "", true
		}
	}
	return gd.name + ".ips.allow", false
}

// peerAddr reads the address of a RemoteAddr, IPv4-mapped IPv6 as IPv4, without zone.
func peerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

// handleCORS answers preflight requests (OPTIONS with Access-Control-Request-Method) of
// routes with cors settings at the gateway, without a token: the browser sends none, and
// the answer reveals only the route's CORS settings. Other requests from an allowed
// origin get the Access-Control-Allow-* headers and go on; the browser, not the gateway,
// enforces what a page may read.
func (g *Gateway) handleCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gd := g.guardFor(r)
		if gd == nil || gd.cors == nil {
			next.ServeHTTP(w, r)
			return
		}
		gd.cors.HandlerFunc(w, r) // a preflight is answered (204) here
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowMethods runs before authentication and audits its refusals. It answers 400 to a
// request whose method override header (X-HTTP-Method-Override…) asks the service to run
// another method than the one routed and authorized here, and 405 with an Allow header to
// a method the route's methods list leaves out or, on every route, one the gateway never
// forwards: anything outside config.RouteMethods (TRACE, CONNECT, WebDAV methods, and
// lower-case spellings such as "delete", which a policy on "DELETE" does not match but a
// framework that upper-cases methods serves as DELETE).
func (g *Gateway) allowMethods(next http.Handler) http.Handler {
	allowAny := strings.Join(config.RouteMethods, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := routeFrom(r.Context())
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		if proxy.HasMethodOverride(r.Header) {
			if !g.record(w, r, audit.Event{Kind: kindMethod, Outcome: audit.Deny, Reason: proxy.ReasonMethodOverride, Rule: rt.name}) {
				return
			}
			proxy.WriteError(w, r, http.StatusBadRequest, proxy.CodeBadRequest, proxy.ReasonMethodOverride)
			return
		}
		reason, rule, allow := reasonMethodUnsupported, rt.name, allowAny
		if gd := g.guardFor(r); gd != nil && gd.methods != nil {
			reason, rule, allow = reasonMethod, gd.name+".methods", gd.allow
			if slices.Contains(gd.methods, r.Method) {
				next.ServeHTTP(w, r)
				return
			}
		} else if slices.Contains(config.RouteMethods, r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		if !g.record(w, r, audit.Event{Kind: kindMethod, Outcome: audit.Deny, Reason: reason, Rule: rule}) {
			return
		}
		w.Header().Set("Allow", allow)
		proxy.WriteError(w, r, http.StatusMethodNotAllowed, proxy.CodeMethodNotAllowed, reason)
	})
}
