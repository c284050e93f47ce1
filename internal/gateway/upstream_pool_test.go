package gateway

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestBurstsReuseUpstreamConnections: requests in flight to a peer each hold an HTTP/1.1
// connection; up to services[].resilience.max_concurrent of them, a second burst reuses
// the first burst's connections instead of handshaking new ones (with a smaller idle pool,
// every burst above it paid a TLS handshake per request beyond the pool).
func TestBurstsReuseUpstreamConnections(t *testing.T) {
	const burst = 100 // above the 64 connections kept before, below max_concurrent's 256
	var (
		mu      sync.Mutex
		conns   = map[string]bool{}
		arrived = make(chan struct{}, burst)
		release = make(chan struct{})
	)
	h := newHarness(t, harnessOpts{upstreams: map[string]http.Handler{
		"accounts": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			conns[r.RemoteAddr] = true
			gate := release
			mu.Unlock()
			arrived <- struct{}{}
			<-gate // every request of the burst is in flight at once
			w.WriteHeader(http.StatusOK)
		}),
	}})
	e := h.start()
	for range 2 {
		var wg sync.WaitGroup
		results := make(chan result, burst)
		for range burst {
			wg.Go(func() { results <- e.fetch(http.MethodGet, "/public/hello", "") })
		}
		for i := range burst {
			select {
			case <-arrived:
			case <-time.After(20 * time.Second):
				mu.Lock()
				close(release) // let the blocked handlers end
				mu.Unlock()
				t.Fatalf("only %d of %d requests reached the upstream at once", i, burst)
			}
		}
		mu.Lock()
		close(release)
		release = make(chan struct{})
		mu.Unlock()
		wg.Wait()
		close(results)
		for r := range results {
			if r.err != nil || r.status != http.StatusOK {
				t.Fatalf("request: status %d, %v", r.status, r.err)
			}
		}
	}
	if len(conns) != burst {
		t.Fatalf("two bursts of %d requests used %d connections to the upstream, want %d: the second burst did not reuse the first's", burst, len(conns), burst)
	}
}
