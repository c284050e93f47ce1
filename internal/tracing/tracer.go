package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names Bulwark as the instrumentation scope of its spans.
const instrumentation = "github.com/bulwark-security/bulwark/internal/tracing"

// W3C trace context and baggage headers, in canonical form so deleting them does not
// allocate.
const (
	headerTraceparent = "Traceparent"
	headerTracestate  = "Tracestate"
	headerBaggage     = "Baggage"
)

// Tracer starts the spans of one role. A nil *Tracer is tracing off.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TraceContext
}

// New returns a Tracer on tp, or nil (tracing off) when tp is nil.
func New(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		return nil
	}
	return &Tracer{tracer: tp.Tracer(instrumentation)}
}

// TraceID returns the hex trace id of the span in ctx, or "" when there is none (tracing
// off). Unsampled requests have one too, so audit events and logs always correlate.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// SetRoute names the server span in ctx after the route pattern that matched ("GET
// /api/accounts/**") and sets http.route. Without a recording span it does nothing.
func SetRoute(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(spanMethod(method) + " " + route)
	span.SetAttributes(httpRoute.String(route))
}

// dropTraceHeaders deletes incoming trace context (and baggage) nobody vouches for.
func dropTraceHeaders(h http.Header) {
	delete(h, headerTraceparent)
	delete(h, headerTracestate)
	delete(h, headerBaggage)
}
