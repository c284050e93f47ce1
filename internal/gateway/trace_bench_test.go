package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bulwark-security/bulwark/internal/tracing"
)

// BenchmarkTracing is the per-request cost of tracing at the gateway: the whole chain and
// a real mTLS round trip to an upstream, with tracing off (nil Tracer) and on (every
// request sampled, spans batched to an exporter that drops them, so the export's network
// cost, which is off the request path, is not counted). Compare on/off of the same run.
func BenchmarkTracing(b *testing.B) {
	build := func(b *testing.B, tr *tracing.Tracer) http.Handler {
		return newHarness(b, harnessOpts{tracer: tr, discardLogs: true, noGateway: true}).build().Handler()
	}
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest(http.MethodGet, "https://bank.local/public/hello", nil)
		req.RemoteAddr = "127.0.0.1:50000"
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("off", func(b *testing.B) { run(b, build(b, nil)) })
	b.Run("on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
		run(b, build(b, tracing.New(tp)))
	})
}
