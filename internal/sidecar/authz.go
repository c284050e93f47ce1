package sidecar

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/policy"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// inbound holds what the inbound middleware needs to decide and record.
type inbound struct {
	component string // "sidecar/<service>", the audit component
	mesh      *policy.Mesh
	gateway   spiffeid.ID // only this caller may assert an end user
	audit     audit.Recorder
	failOpen  bool
	log       *slog.Logger
}

// caller is who called, as established by the handshake and, for the gateway, the token it
// verified. It travels in the request context from authorize to the proxy rewrite.
type caller struct {
	ID spiffeid.ID
	// User, Roles and Scopes, and the client's address as the gateway saw it
	// (X-Forwarded-For/Proto), are set only when ID is the gateway's.
	User, Roles, Scopes          string
	ForwardedFor, ForwardedProto string
}

type callerKey struct{}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// errNoPeerID is only reachable if the TLS config stopped requiring client SVIDs.
var errNoPeerID = errors.New("no verified peer certificate")

// peerID returns the SPIFFE ID of the certificate the handshake verified.
func peerID(r *http.Request) (spiffeid.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, errNoPeerID
	}
	return x509svid.IDFromCert(r.TLS.PeerCertificates[0])
}

// authorize decides every request with the service's allow rules and records the decision.
// Nothing reaches next unless the decision is allow and was recorded (or fail-open is set).
func (in *inbound) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := peerID(r)
		if err != nil {
			// Fail closed; the handshake should have made this impossible.
			in.log.ErrorContext(r.Context(), "no caller identity on an inbound request", slog.String("request_id", proxy.RequestIDFrom(r.Context())), slog.String("error", err.Error()))
			proxy.WriteError(w, r, http.StatusUnauthorized, proxy.CodeUnauthenticated, "no verified client identity")
			return
		}
		c := caller{ID: id}
		if id == in.gateway {
			c.User = r.Header.Get(proxy.HeaderUser)
			c.Roles = r.Header.Get(proxy.HeaderRoles)
			c.Scopes = r.Header.Get(proxy.HeaderScopes)
			c.ForwardedFor = r.Header.Get("X-Forwarded-For")
			c.ForwardedProto = r.Header.Get("X-Forwarded-Proto")
		}
		d := in.mesh.Decide(id, r.Method, r.URL.Path)
		if !in.record(r, c, d) {
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, "the decision could not be audited; try again later")
			return
		}
		if !d.Allow {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, d.Reason)
			return
		}
		next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
	})
}

// record writes the audit event for d and reports whether the request may go on: false when
// the event was lost and the operator did not opt into failing open.
func (in *inbound) record(r *http.Request, c caller, d policy.Decision) bool {
	outcome := audit.Deny
	if d.Allow {
		outcome = audit.Allow
	}
	ev := audit.Event{
		Kind:      audit.KindAuthz,
		Component: in.component,
		Outcome:   outcome,
		Reason:    d.Reason,
		Rule:      d.Rule,
		RequestID: proxy.RequestIDFrom(r.Context()),
		Source:    proxy.SourceIP(r.RemoteAddr),
		Caller:    c.ID.String(),
		User:      c.User,
		Method:    r.Method,
		Path:      r.URL.Path,
	}
	// A peer that hangs up must not cancel the record of the decision made about it.
	err := in.audit.Record(context.WithoutCancel(r.Context()), ev)
	if err == nil {
		return true
	}
	in.log.ErrorContext(r.Context(), "audit record failed",
		slog.String("request_id", ev.RequestID), slog.String("outcome", outcome),
		slog.Bool("fail_open", in.failOpen), slog.String("error", err.Error()))
	return in.failOpen
}
