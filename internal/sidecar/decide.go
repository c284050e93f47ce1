package sidecar

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// workloadRequest is the engine's view of an inbound request. The end user is the one the
// gateway asserted in its identity headers, and only when c is the gateway (authorize
// fills c.User only then; the engine checks again). The source address is the peer's.
func workloadRequest(service string, r *http.Request, c caller) authz.WorkloadRequest {
	ip, _ := netip.ParseAddr(proxy.SourceIP(r.RemoteAddr))
	req := authz.WorkloadRequest{
		Caller: c.ID, Service: service, Method: r.Method, Path: r.URL.Path,
		Context: authz.Context{SourceIP: ip, Time: time.Now(), MTLS: true},
	}
	if c.User != "" {
		req.EndUser = &authz.User{Name: c.User, Roles: splitList(c.Roles, ","), Scopes: splitList(c.Scopes, " ")}
	}
	return req
}

func splitList(s, sep string) []string {
	var out []string
	for _, v := range strings.Split(s, sep) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// allowRule is the bulwark.yaml allow rule (services[i].allow[j]) among the policies that
// allowed v, for the audit event's rule; "" when none did (a deny, or an operator permit).
func allowRule(v authz.Verdict) string {
	if !v.Allow {
		return ""
	}
	for _, id := range v.Policies {
		if strings.HasPrefix(id, "services[") {
			return id
		}
	}
	return ""
}

// logVerdict logs a dry run that would deny and policies that failed to evaluate.
func (in *inbound) logVerdict(r *http.Request, v authz.Verdict) {
	if v.WouldDeny {
		in.log.LogAttrs(r.Context(), slog.LevelWarn, "dry-run policy would deny",
			slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.Any("dry_run", v.DryRun),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	for _, e := range v.Errors {
		in.log.LogAttrs(r.Context(), slog.LevelWarn, "policy failed to evaluate",
			slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.String("policy", e.Policy), slog.String("error", e.Message))
	}
}
