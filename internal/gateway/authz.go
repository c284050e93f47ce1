package gateway

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// reasonForbidden is the public message of a 403. Why it was denied (the policy ids and
// the engine's reason) is in the audit event with the same request id, not in the answer:
// policy names tell a prober which condition to work around.
const reasonForbidden = "forbidden by policy"

// authorize decides every routed request with the Cedar engine (DecideUser) and audits
// the decision with the ids of the policies that made it. The principal is the verified
// token's subject, or Anonymous on auth: none routes; the context is the client's address
// as the gateway sees it, the time, and mtls (true only for a verified client
// certificate). Deny by default. A request that only dry-run policies would deny goes
// through, audited and logged as would_deny. The identity provider's own paths are not a
// gateway decision.
func (g *Gateway) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := routeFrom(r.Context())
		if rt == nil || rt.oidc {
			next.ServeHTTP(w, r)
			return
		}
		req := authz.UserRequest{Method: r.Method, Path: r.URL.Path, Context: edgeContext(r)}
		if rt.auth {
			p, ok := principalFrom(r.Context())
			if !ok {
				// Unreachable while authenticate runs first; refuse rather than trust.
				proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, reasonNoToken)
				return
			}
			req.User = authz.User{Name: p.Subject, Roles: p.Roles, Scopes: p.Scopes, Client: p.ClientID}
		}
		v := g.engine.DecideUser(req)
		ev := verdictEvent(v)
		ev.Rule, ev.User = rt.name, req.User.Name
		if !g.record(w, r, ev) {
			return
		}
		g.logVerdict(r, v)
		if !v.Allow {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, reasonForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// edgeContext is the request's context for the engine.
func edgeContext(r *http.Request) authz.Context {
	ip, _ := netip.ParseAddr(sourceIP(r.RemoteAddr)) // unparsable: the zero Addr, which fails closed
	return authz.Context{
		SourceIP: ip,
		Time:     time.Now(),
		MTLS:     r.TLS != nil && len(r.TLS.VerifiedChains) > 0,
	}
}

// verdictEvent is the authz audit event of a verdict, without the request's fields.
func verdictEvent(v authz.Verdict) audit.Event {
	ev := audit.Event{Kind: audit.KindAuthz, Outcome: audit.Deny, Reason: v.Reason, Policies: v.Policies}
	if v.Allow {
		ev.Outcome = audit.Allow
		ev.WouldDeny, ev.DryRun = v.WouldDeny, v.DryRun
	}
	return ev
}

// logVerdict logs what an operator must see besides the audit event: a dry run that would
// deny (the point of a dry run is to be noticed) and policies that failed to evaluate.
func (g *Gateway) logVerdict(r *http.Request, v authz.Verdict) {
	if v.WouldDeny {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "dry-run policy would deny",
			slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.Any("dry_run", v.DryRun),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	for _, e := range v.Errors {
		g.log.LogAttrs(r.Context(), slog.LevelWarn, "policy failed to evaluate",
			slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.String("policy", e.Policy), slog.String("error", e.Message))
	}
}
