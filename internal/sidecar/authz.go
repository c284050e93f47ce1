package sidecar

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// inbound holds what the inbound middleware needs to decide and record.
type inbound struct {
	component string // "sidecar/<service>", the audit component
	service   string
	gateway   spiffeid.ID // only this caller may assert an end user
	audit     audit.Recorder
	log       *slog.Logger
	tracer    *tracing.Tracer   // nil: tracing off
	metrics   *metrics.Registry // nil: no metrics
	// state is what a reload replaces; each request loads it once.
	state atomic.Pointer[inboundState]
}

// inboundState is the reloadable part of inbound.
type inboundState struct {
	engine   *authz.Engine
	failOpen bool
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

// reasonAuditLost is the public message of a request refused because its decision could not
// be recorded.
const reasonAuditLost = "the decision could not be audited; try again later"

// errNoPeerID is only reachable if the TLS config stopped requiring client SVIDs.
var errNoPeerID = errors.New("no verified peer certificate")

// peerID returns the SPIFFE ID of the certificate the handshake verified.
func peerID(r *http.Request) (spiffeid.ID, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, errNoPeerID
	}
	return x509svid.IDFromCert(r.TLS.PeerCertificates[0])
}

// authorize decides every request with the Cedar engine (DecideWorkload: the caller's SPIFFE
// ID, plus the end user the gateway asserted when, and only when, the caller is the
// gateway) and records the decision with the deciding policies' ids. Deny by default.
// Nothing reaches next unless the decision is allow and was recorded (or fail-open is set);
// a request that only dry-run policies would deny goes through, audited as would_deny.
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
		st := in.state.Load()
		v := st.engine.DecideWorkload(workloadRequest(in.service, r, c))
		if !in.record(r, c, v, st.failOpen) {
			proxy.WriteError(w, r, http.StatusServiceUnavailable, proxy.CodeUnavailable, reasonAuditLost)
			return
		}
		if !v.Allow {
			proxy.WriteError(w, r, http.StatusForbidden, proxy.CodeForbidden, "forbidden by policy")
			return
		}
		next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
	})
}

// record writes the audit event for v and reports whether the request may go on: false when
// the event was lost and the operator did not opt into failing open. The public 403 says
// only "forbidden by policy": the reason and the policy ids are here.
func (in *inbound) record(r *http.Request, c caller, v authz.Verdict, failOpen bool) bool {
	outcome := audit.Deny
	if v.Allow {
		outcome = audit.Allow
	}
	ev := audit.Event{
		Kind:     audit.KindAuthz,
		Outcome:  outcome,
		Reason:   v.Reason,
		Rule:     allowRule(v),
		Policies: v.Policies,
		Caller:   c.ID.String(),
		User:     c.User,
	}
	if v.Allow {
		ev.WouldDeny, ev.DryRun = v.WouldDeny, v.DryRun
	}
	in.logVerdict(r, v)
	return in.recordEvent(r, ev, failOpen)
}

// recordEvent fills the request fields of ev (component, request and trace ids, source,
// method, path), records it and reports whether the request may go on: false when the event
// was lost and the operator did not opt into failing open.
func (in *inbound) recordEvent(r *http.Request, ev audit.Event, failOpen bool) bool {
	ev.Component = in.component
	ev.RequestID = proxy.RequestIDFrom(r.Context())
	ev.TraceID = tracing.TraceID(r.Context())
	ev.Source = proxy.SourceIP(r.RemoteAddr)
	ev.Method = r.Method
	ev.Path = r.URL.Path
	// A peer that hangs up must not cancel the record of the decision made about it.
	err := in.audit.Record(context.WithoutCancel(r.Context()), ev)
	if err == nil {
		return true
	}
	in.log.ErrorContext(r.Context(), "audit record failed",
		slog.String("request_id", ev.RequestID), slog.String("outcome", ev.Outcome),
		slog.Bool("fail_open", failOpen), slog.String("error", err.Error()))
	return failOpen
}
