package gateway

import "net/http"

// traceRequest runs the request in a server span (tracing.Tracer.Server). The client's
// traceparent, tracestate and baggage are dropped unless tracing.trust_client_trace_context
// is set: at the edge nobody is authenticated yet, and a trusted traceparent would let any
// client pick the trace id its audit events are filed under. With tracing off it only
// drops those headers, which allocates nothing.
func (g *Gateway) traceRequest(next http.Handler) http.Handler {
	return g.tracer.Server(g.cfg.Tracing.TrustClientTraceContext)(next)
}
