package gateway

import (
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/ratelimit"
	"github.com/bulwark-security/bulwark/internal/ratelimit/redistest"
)

// TestTwoGatewaysShareRedis runs two gateways (two New calls, two listeners, two Redis
// clients) on one real Redis and drives one key through both. Together they must allow
// what one limit allows over the window: rate*window + burst, within 10%. The window is
// measured, not asserted: the test counts, it does not time.
func TestTwoGatewaysShareRedis(t *testing.T) {
	const (
		rate, burst = 20.0, 10
		perGateway  = 100
		interval    = 20 * time.Millisecond // each gateway gets 50 req/s, 100 req/s in all: 5x the rate
	)
	clientA, prefix := redistest.Client(t)
	clientB := redistest.NewClient(t)
	h := newHarness(t, harnessOpts{config: rlYAML("{backend: redis}", "{}", "{rate: 20, burst: 10, key: ip}"), noGateway: true})
	gwA := h.start(func(o *Options) { o.Limiter = ratelimit.NewRedis(clientA, prefix) })
	gwB := h.start(func(o *Options) { o.Limiter = ratelimit.NewRedis(clientB, prefix) })

	var allowed, limited, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, gw := range []*edge{gwA, gwB} {
		wg.Go(func() {
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := range perGateway {
				if i > 0 {
					<-tick.C
				}
				switch gw.fetch(http.MethodGet, "/public/pay", "").status {
				case http.StatusOK:
					allowed.Add(1)
				case http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	window := time.Since(start).Seconds()
	want := rate*window + burst
	got := float64(allowed.Load())
	t.Logf("two gateways, %d requests over %.2fs: %d allowed, %d limited; rate*window+burst = %.1f",
		2*perGateway, window, allowed.Load(), limited.Load(), want)
	if other.Load() != 0 {
		t.Errorf("responses other than 200 and 429: got %d, want 0", other.Load())
	}
	// Separate counts would allow about twice as much: each gateway its own rate*window+burst.
	if math.Abs(got-want) > 0.1*want {
		t.Errorf("allowed through both gateways: got %.0f, want %.1f ± 10%%", got, want)
	}
}
