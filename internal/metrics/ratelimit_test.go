package metrics

import (
	"sync/atomic"
	"testing"
)

// The degraded gauge follows the limiter's state at scrape time.
func TestRateLimiterDegraded(t *testing.T) {
	reg := New("gateway")
	var down atomic.Bool
	if err := reg.WatchRateLimiter(down.Load); err != nil {
		t.Fatal(err)
	}
	value := func() float64 {
		t.Helper()
		mfs, err := reg.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "bulwark_ratelimit_degraded" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("bulwark_ratelimit_degraded not exported")
		return 0
	}
	if got := value(); got != 0 {
		t.Errorf("while Redis answers: got %v, want 0", got)
	}
	down.Store(true)
	if got := value(); got != 1 {
		t.Errorf("while Redis is down: got %v, want 1", got)
	}
	var nilReg *Registry
	if err := nilReg.WatchRateLimiter(down.Load); err != nil {
		t.Errorf("nil registry: %v", err)
	}
}
