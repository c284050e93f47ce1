package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-security/bulwark/internal/metrics"
)

// BenchmarkInstrumentation is the gateway's whole chain, without and with metrics, in one
// run: the ratio of the two is the per-request cost of instrumentation. The requests end
// in the chain (404 for an unmatched path, 401 for a route without a token, which is also
// audited), so the upstream's network time does not hide it.
func BenchmarkInstrumentation(b *testing.B) {
	for _, path := range []string{"/no/such/route", "/api/accounts/A-1001"} {
		for _, withMetrics := range []bool{false, true} {
			name := path + "/without"
			if withMetrics {
				name = path + "/with"
			}
			b.Run(name, func(b *testing.B) {
				g, _ := benchGateway(b)
				if withMetrics {
					o := g.opts
					o.Metrics = metrics.New("gateway")
					var err error
					if g, err = New(o); err != nil {
						b.Fatal(err)
					}
				}
				h := g.Handler()
				req := httptest.NewRequest(http.MethodGet, "https://gw.test"+path, nil)
				req.RemoteAddr = "127.0.0.1:50000"
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					h.ServeHTTP(httptest.NewRecorder(), req)
				}
			})
		}
	}
}
