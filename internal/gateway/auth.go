package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// realm is the RFC 6750 realm in WWW-Authenticate challenges.
const realm = "bulwark"

// reasonNoToken is the audit reason of a request without a bearer token.
const reasonNoToken = "no bearer token"

// authenticate verifies the bearer token on routes that require one. A failure is audited
// and answered 401 with an RFC 6750 challenge; the token itself never reaches a log or an
// audit record.
func (g *Gateway) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := routeFrom(r.Context())
		if rt == nil || !rt.auth {
			next.ServeHTTP(w, r)
			return
		}
		raw, err := bearerToken(r)
		var p authn.Principal
		if err == nil {
			p, err = g.verifier.Verify(r.Context(), raw)
		}
		if err != nil {
			reason := authnReason(err)
			ev := audit.Event{Kind: audit.KindAuthn, Outcome: audit.Deny, Reason: reason, Rule: rt.name}
			if !g.record(w, r, ev) {
				return
			}
			w.Header().Set("WWW-Authenticate", authn.WWWAuthenticate(realm, err))
			proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, reason)
			return
		}
		if info := infoFrom(r.Context()); info != nil {
			info.user = p.Subject
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// bearerToken reads the request's one access token. A request that sends it twice (two
// Authorization headers, or one and an access_token query parameter) is invalid_request
// (RFC 6750 section 3.1), and so is a token in the query alone, which the gateway does not
// read: the service receives the query string, and a service or a filter in front of the
// gateway that read the other copy would act for someone the gateway never verified.
func bearerToken(r *http.Request) (string, error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return "", &authn.Error{Code: codeInvalidRequest, Description: "send one Authorization header"}
	}
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		return "", &authn.Error{Code: codeInvalidRequest, Description: "send the access token in the Authorization header, not the query string"}
	}
	return authn.BearerToken(r.Header.Get("Authorization"))
}

// authnReason is the public, token-free explanation of an authentication failure.
func authnReason(err error) string {
	if errors.Is(err, authn.ErrNoToken) {
		return reasonNoToken
	}
	if ae, ok := errors.AsType[*authn.Error](err); ok && ae.Description != "" {
		return ae.Description
	}
	return "invalid access token"
}

// record fills the request fields of e and records it. When the record fails it answers
// 503 and returns false, unless audit.unsafe_fail_open is set. The client going away does
// not cancel the record.
func (g *Gateway) record(w http.ResponseWriter, r *http.Request, e audit.Event) bool {
	ctx := context.WithoutCancel(r.Context())
	e.Component = "gateway"
	e.RequestID = proxy.RequestIDFrom(ctx)
	e.TraceID = tracing.TraceID(ctx)
	e.Source = sourceIP(r.RemoteAddr)
	e.Method = r.Method
	e.Path = r.URL.Path
	err := g.audit.Record(ctx, e)
	if err == nil {
		return true
	}
	failOpen := g.cfg.Audit.UnsafeFailOpen
	g.log.LogAttrs(ctx, slog.LevelError, "audit record failed",
		slog.String("request_id", e.RequestID), slog.Bool("unsafe_fail_open", failOpen), slog.String("error", err.Error()))
	if failOpen {
		return true
	}
	proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, "the decision could not be audited; try again later")
	return false
}

func sourceIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
