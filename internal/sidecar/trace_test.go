package sidecar

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/bulwark-security/bulwark/internal/tracing"
)

func withTracer(tp trace.TracerProvider) nodeOpt {
	return func(o *Options) { o.Tracer = tracing.New(tp) }
}

// TestTraceAcrossTwoSidecars follows one request over three hops with an in-memory span
// recorder: a caller holding the gateway's SVID → accounts' sidecar → accounts' app, which
// calls the ledger through its outbound socket with the traceparent it was given → ledger's
// sidecar → ledger's app. Every span is in the caller's trace, each hop's span is the child
// of the one before, and both sidecars' audit events carry the trace id.
func TestTraceAcrossTwoSidecars(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.TraceContext{}

	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"), withTracer(tp))
	accounts := m.start(t, "accounts", m.ca.SVID(t, "accounts"), withTracer(tp),
		withOutbound(t, m, map[string]string{"ledger": ledger.addr}))

	// Hop 1: the gateway's side, with its own span as the parent.
	ctx, root := tp.Tracer("test").Start(context.Background(), "gateway")
	hdr := http.Header{"X-Request-Id": {"req-trace-1"}}
	prop.Inject(ctx, propagation.HeaderCarrier(hdr))
	res, err := do(t, m.mtlsClient(t, m.ca.SVID(t, "gateway"), "accounts", accounts.addr), http.MethodGet, "https://accounts/api/accounts/A-1001/balance", hdr)
	root.End()
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("gateway → accounts: %v %d %s", err, res.status, res.body)
	}
	atApp := res.echo(t).Header

	// Hop 2: accounts' app calls the ledger, passing on the trace context it received.
	out := http.Header{"X-Request-Id": {"req-trace-1"}, "Traceparent": atApp["Traceparent"]}
	res, err = do(t, appClient(t, accounts.outSock), http.MethodGet, "http://ledger/balances/A-1001", out)
	if err != nil || res.status != http.StatusOK {
		t.Fatalf("accounts app → ledger: %v %d %s", err, res.status, res.body)
	}
	atLedger := res.echo(t).Header

	spans := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Errorf("span %q is in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), root.SpanContext().TraceID())
		}
		spans[s.SpanContext().SpanID()] = s
	}
	// Walk up from the span that called the ledger's app.
	last := trace.SpanContextFromContext(prop.Extract(context.Background(), propagation.HeaderCarrier(atLedger)))
	var got []string
	for id := last.SpanID(); id.IsValid(); {
		s, ok := spans[id]
		if !ok {
			t.Fatalf("span %s (after %q) was not recorded: the chain is broken", id, got)
		}
		got = append(got, s.SpanKind().String()+" "+attrOf(s, "server.address"))
		id = s.Parent().SpanID()
	}
	want := []string{
		"client ledger",   // ledger's sidecar → ledger's app
		"server ",         // ledger's sidecar, inbound
		"client ledger",   // accounts' sidecar, outbound → ledger's sidecar
		"client accounts", // accounts' sidecar → accounts' app (the app passed it on)
		"server ",         // accounts' sidecar, inbound
		"internal ",       // the caller's root span
	}
	if len(got) != len(want) {
		t.Fatalf("chain from the ledger app up: got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chain[%d]: got %q, want %q (all: %q)", i, got[i], want[i], got)
		}
	}
	if n := len(spans); n != 6 {
		t.Errorf("spans recorded: got %d, want 6", n)
	}
	for name, path := range map[string]string{"accounts": accounts.auditPath, "ledger": ledger.auditPath} {
		evs := readAudit(t, path)
		if len(evs) != 1 || evs[0].TraceID != root.SpanContext().TraceID().String() || evs[0].RequestID != "req-trace-1" {
			t.Errorf("%s audit: got %+v, want one event with trace_id %s", name, evs, root.SpanContext().TraceID())
		}
	}
}

func attrOf(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
