package tracing

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Transport returns base wrapped so that every request it sends is a client span, child of
// the span (or remote span context) in the request's context, and carries that span as its
// traceparent. peer names the target in server.address (a service name, never a client's
// Host header). On a nil Tracer it returns base itself.
//
// The span ends when the response headers arrive (or the round trip fails), not when the
// body has been read: it measures the hop, and a streamed body cannot hold it open.
func (t *Tracer) Transport(base http.RoundTripper, peer string) http.RoundTripper {
	if t == nil {
		return base
	}
	return &transport{t: t, base: base, peer: peer}
}

type transport struct {
	t    *Tracer
	base http.RoundTripper
	peer string
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tr.t.tracer.Start(r.Context(), spanMethod(r.Method),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			httpMethod.String(spanMethod(r.Method)),
			serverAddress.String(tr.peer),
			urlPath.String(boundPath(r.URL.Path)),
		))
	defer span.End()
	// A RoundTripper must not modify the caller's request: send a shallow copy whose
	// headers carry this span, whatever trace headers the request had before.
	out := r.Clone(ctx)
	dropTraceHeaders(out.Header)
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	res, err := tr.base.RoundTrip(out)
	if err != nil {
		span.SetAttributes(errorType.String("transport"))
		span.SetStatus(codes.Error, "round trip failed")
		return nil, err
	}
	span.SetAttributes(httpStatus.Int(res.StatusCode))
	if res.StatusCode >= 400 { // a client span's error is any 4xx or 5xx (semconv)
		span.SetAttributes(errorType.String(strconv.Itoa(res.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return res, err
}
