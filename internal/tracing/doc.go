// Package tracing records OpenTelemetry traces across the gateway, the sidecars and the
// apps, propagated as W3C trace context (traceparent, tracestate).
//
// Each role has its own tracer provider (NewProvider: OTLP/HTTP export, parent-based ratio
// sampling, service.name = the role). A request gets one server span per hop that serves it
// (Tracer.Server) and one client span per call a hop makes to the next (Tracer.Transport):
//
//	gateway SERVER "GET /api/accounts/**"
//	└ gateway CLIENT "GET" → accounts
//	  └ sidecar/accounts SERVER "GET"
//	    └ sidecar/accounts CLIENT "GET" → app
//	      └ (app forwards traceparent on its mesh call)
//	        sidecar/accounts CLIENT "GET" → ledger
//	        └ sidecar/ledger SERVER "GET" …
//
// Trust: the gateway drops a client's trace headers unless tracing.trust_client_trace_context
// is set, because an unauthenticated client could otherwise choose the trace id that audit
// events are correlated by, and the sampling decision. Sidecars continue the trace of their
// mTLS-authenticated peer and of their own app.
//
// Off (no tracing.otlp_endpoint) is a nil *Tracer: its middleware and transports are the
// wrapped handler and round tripper themselves, so a request pays nothing and allocates
// nothing for tracing. Span names use the route pattern, never the path, so their number is
// bounded; attributes follow the HTTP semantic conventions but never carry header values,
// query strings, tokens or cookies.
package tracing
