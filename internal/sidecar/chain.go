package sidecar

import (
	"log/slog"
	"net/http"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// inboundChain is every request from a peer sidecar or the gateway, in order. The mTLS
// handshake has already verified the caller's SVID before the first of these runs.
func inboundChain(in *inbound, app http.Handler) http.Handler {
	return proxy.Chain(app,
		proxy.RequestID(true),            // the peer is authenticated: keep its well-formed id
		in.tracer.Server(true),           // a span continuing the peer's trace (it is authenticated)
		proxy.Recover(in.log, nil),       // JSON 500 instead of a dropped connection
		in.metrics.Instrument("inbound"), // request count and latency by status
		proxy.Canonical,                  // 400 for any path with two readings
		proxy.RefuseUpgrade,              // 501: no raw tunnel past the checks below
		in.allowMethods,                  // 405 outside config.RouteMethods, 400 for method overrides (audited)
		in.authorize,                     // allow rules on caller, method, path; audit every decision
	)
	// app: identity headers rewritten (setIdentityHeaders), then the app's socket.
}

// outboundChain is every call from this service's app to another service.
func outboundChain(out *outbound, log *slog.Logger) http.Handler {
	return proxy.Chain(out,
		proxy.RequestID(true), // the app is local: keep its id so a call can be traced
		out.tracer.Continue,   // the app's trace context; the call is the peer transport's span
		proxy.Recover(log, nil),
		out.metrics.Instrument("outbound"), // request count and latency by status
		proxy.RefuseUpgrade,                // the app cannot open a raw tunnel to another service
	)
	// out: target from Host, identity headers stripped, mTLS to the target's sidecar.
}
