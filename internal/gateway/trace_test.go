package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwark-security/bulwark/internal/tracing"
)

// clientTraceparent is a trace context a client makes up.
const (
	clientTraceID     = "0af7651916cd43dd8448eb211c80319c"
	clientTraceparent = "00-" + clientTraceID + "-b7ad6b7169203331-01"
)

func recordingTracer(t *testing.T) (*tracing.Tracer, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return tracing.New(tp), rec
}

// forwardedTrace is the trace context the upstream received.
func forwardedTrace(t *testing.T, body []byte) (trace.SpanContext, http.Header) {
	t.Helper()
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("echo body: %v", err)
	}
	ctx := propagation.TraceContext{}.Extract(t.Context(), propagation.HeaderCarrier(e.Header))
	return trace.SpanContextFromContext(ctx), e.Header
}

// TestEdgeTrace: the gateway starts its own trace whatever the client sent, names its
// server span after the route, forwards its client span as the traceparent, and writes the
// trace id into the audit event and the access log line.
func TestEdgeTrace(t *testing.T) {
	tracer, rec := recordingTracer(t)
	h := newHarness(t, harnessOpts{tracer: tracer})
	tok := h.token("alice", []string{"customer"}, "")
	resp, body := h.get("/api/accounts/A-1001?token=s3cret", map[string]string{
		"Authorization": "Bearer " + tok, "Cookie": "session=c00kie",
		"Traceparent": clientTraceparent, "Tracestate": "evil=1", "Baggage": "user=mallory",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200: %s", resp.StatusCode, body)
	}
	sent, hdr := forwardedTrace(t, body)
	if !sent.IsValid() || sent.TraceID().String() == clientTraceID {
		t.Fatalf("forwarded trace context: got %v, want a new trace", sent)
	}
	if hdr.Get("Tracestate") != "" || hdr.Get("Baggage") != "" {
		t.Errorf("forwarded the client's tracestate %q / baggage %q", hdr.Get("Tracestate"), hdr.Get("Baggage"))
	}

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("spans: got %d, want 2 (server, client)", len(spans))
	}
	client, server := spans[0], spans[1] // the client span ends first
	if server.SpanKind() != trace.SpanKindServer || server.Name() != "GET /api/accounts/**" || server.Parent().IsValid() {
		t.Errorf("server span: got %v %q parent %v, want a root SERVER span GET /api/accounts/**", server.SpanKind(), server.Name(), server.Parent())
	}
	if client.SpanKind() != trace.SpanKindClient || client.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("client span: got %v, parent %v; want CLIENT, child of the server span", client.SpanKind(), client.Parent())
	}
	if sent.SpanID() != client.SpanContext().SpanID() || sent.TraceID() != server.SpanContext().TraceID() {
		t.Errorf("forwarded traceparent %v: want the client span %v", sent, client.SpanContext())
	}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			v := kv.Value.Emit()
			for _, secret := range []string{tok, "s3cret", "c00kie", "mallory"} {
				if strings.Contains(v, secret) {
					t.Errorf("span %q attribute %s carries a secret: %q", s.Name(), kv.Key, v)
				}
			}
		}
	}

	traceID := server.SpanContext().TraceID().String()
	evs := h.auditEvents()
	if len(evs) != 1 || evs[0].TraceID != traceID || evs[0].RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("audit: got %+v, want one event with trace_id %s", evs, traceID)
	}
	if !strings.Contains(h.logs.String(), `"trace_id":"`+traceID+`"`) {
		t.Errorf("access log has no trace_id %s:\n%s", traceID, h.logs.String())
	}
}

// TestEdgeTraceTrustedClient: with trust_client_trace_context the client's trace goes on.
func TestEdgeTraceTrustedClient(t *testing.T) {
	tracer, rec := recordingTracer(t)
	cfg := testConfig + "tracing:\n  otlp_endpoint: http://127.0.0.1:4318\n  trust_client_trace_context: true\n"
	h := newHarness(t, harnessOpts{tracer: tracer, config: cfg})
	resp, body := h.get("/public/x", map[string]string{"Traceparent": clientTraceparent})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d: %s", resp.StatusCode, body)
	}
	sent, _ := forwardedTrace(t, body)
	spans := rec.Ended()
	if sent.TraceID().String() != clientTraceID || len(spans) != 2 || spans[1].Parent().SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("trusted client trace: forwarded %v, spans %d; want trace %s continued from the client's span", sent, len(spans), clientTraceID)
	}
}

// TestEdgeTraceOff: without a tracer nothing is recorded, the audit event has no trace id,
// and the client's trace headers still never reach the service.
func TestEdgeTraceOff(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp, body := h.get("/public/x", map[string]string{"Traceparent": clientTraceparent, "Tracestate": "evil=1", "Baggage": "a=b"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d: %s", resp.StatusCode, body)
	}
	_, hdr := forwardedTrace(t, body)
	for _, k := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := hdr.Get(k); v != "" {
			t.Errorf("%s reached the service with tracing off: %q", k, v)
		}
	}
	if strings.Contains(h.logs.String(), "trace_id") {
		t.Errorf("access log has a trace_id with tracing off")
	}
}
