package gateway

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// BenchmarkTracing is the per-request cost of tracing at the gateway: the whole chain and
// a real mTLS round trip to an upstream, with tracing off (nil Tracer) and on (every
// request sampled, spans batched to an exporter that drops them, so the export's network
// cost, which is off the request path, is not counted). Compare on/off of the same run.
func BenchmarkTracing(b *testing.B) {
	cfg, err := config.Parse("bench.yaml", []byte(strings.Replace(testConfig, "FAILOPEN", "false", 1)))
	if err != nil {
		b.Fatal(err)
	}
	ca := testpki.New(b, "bank.local")
	echo := startEcho(b, identity.ServerTLS(ca.SVID(b, "accounts"), ca.Bundle(), tlsconfig.AuthorizeID(cfg.WorkloadID(config.GatewayName))))
	v, err := authn.NewVerifier(authn.Options{Issuer: "https://127.0.0.1:1", Audience: "bank-api", JWKSURL: "https://127.0.0.1:1/jwks", HTTPClient: http.DefaultClient})
	if err != nil {
		b.Fatal(err)
	}
	edge := ca.ServerCert(b)
	build := func(b *testing.B, tr *tracing.Tracer) http.Handler {
		al, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = al.Close() })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ln.Close() })
		g, err := New(Options{
			Config: cfg, Listener: ln, Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &edge, nil },
			SVID: ca.SVID(b, "gateway"), Bundle: ca.Bundle(), Verifier: v, Audit: al, Tracer: tr,
			Peers: map[string]string{"accounts": echo.addr, "payments": echo.addr, "ledger": echo.addr, "control": echo.addr},
			Log:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(g.closeIdle)
		return g.Handler()
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
