package tracing

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// HTTP semantic-convention attribute keys (semconv v1.40 names), plus Bulwark's own.
const (
	httpMethod     = attribute.Key("http.request.method")
	httpRoute      = attribute.Key("http.route")
	httpStatus     = attribute.Key("http.response.status_code")
	urlPath        = attribute.Key("url.path")
	urlScheme      = attribute.Key("url.scheme")
	serverAddress  = attribute.Key("server.address")
	peerAddress    = attribute.Key("network.peer.address")
	protoVersion   = attribute.Key("network.protocol.version")
	errorType      = attribute.Key("error.type")
	bulwarkRequest = attribute.Key("bulwark.request_id")
)

// maxPathAttr bounds the url.path attribute: a span is not a place for a megabyte of path.
const maxPathAttr = 512

// Server returns middleware that runs each request in a server span. trustIncoming
// continues the trace of the request's traceparent/tracestate (a sidecar's authenticated
// peer); otherwise those headers, and baggage, are deleted before anything else sees them
// and a new trace begins (the edge, by default). Put it right after the request id, so
// that the access log, the audit records and the forwarded request all see the span.
//
// On a nil Tracer (tracing off) it deletes untrusted trace headers all the same, so that
// a client's trace context reaches no app, and otherwise adds nothing.
func (t *Tracer) Server(trustIncoming bool) func(http.Handler) http.Handler {
	if t == nil {
		if trustIncoming {
			return func(next http.Handler) http.Handler { return next }
		}
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				dropTraceHeaders(r.Header)
				next.ServeHTTP(w, r)
			})
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if trustIncoming {
				ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
			} else {
				dropTraceHeaders(r.Header)
			}
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			ctx, span := t.tracer.Start(ctx, spanMethod(r.Method),
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					httpMethod.String(spanMethod(r.Method)),
					urlScheme.String(scheme),
					urlPath.String(boundPath(r.URL.Path)),
					peerAddress.String(proxy.SourceIP(r.RemoteAddr)),
					protoVersion.String(protocolVersion(r)),
					bulwarkRequest.String(proxy.RequestIDFrom(ctx)),
				))
			defer span.End()
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r.WithContext(ctx))
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			span.SetAttributes(httpStatus.Int(status))
			if status >= 500 { // a 4xx is the client's error, not the server's (semconv)
				span.SetAttributes(errorType.String(strconv.Itoa(status)))
				span.SetStatus(codes.Error, "")
			}
		})
	}
}

// Continue returns middleware that only carries the request's incoming trace context into
// its context, without a span of its own: the sidecar's outbound side, whose call is the
// client span its transport starts. On a nil Tracer it is the next handler itself.
func (t *Tracer) Continue(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// spanMethod bounds the method to the standard ones: any other becomes "_OTHER" (semconv),
// so a client cannot mint span names.
func spanMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// boundPath bounds p and makes it valid UTF-8: OTLP's protobuf encoding refuses invalid
// UTF-8, and one such path (a client can send %ff) would lose the whole export batch.
func boundPath(p string) string {
	if len(p) > maxPathAttr {
		p = p[:maxPathAttr]
	}
	if !utf8.ValidString(p) {
		p = strings.ToValidUTF8(p, "\uFFFD")
	}
	return p
}

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return "1.1"
}

// statusWriter remembers the response status for the span.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
