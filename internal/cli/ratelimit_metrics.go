package cli

import (
	"github.com/bulwark-security/bulwark/internal/metrics"
	"github.com/bulwark-security/bulwark/internal/ratelimit"
)

// watchLimiter publishes whether the shared rate limiter is degraded, when it can be (a
// Redis limiter with its fallback; a local limiter never is).
func watchLimiter(reg *metrics.Registry, l ratelimit.Limiter) error {
	d, ok := l.(interface{ Degraded() bool })
	if !ok {
		return nil
	}
	return reg.WatchRateLimiter(d.Degraded)
}
