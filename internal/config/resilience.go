package config

import (
	"fmt"
	"time"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Resilience defaults and bounds; the gateway and every sidecar apply them to their calls to
// every service, and to the control plane (which has no services[] entry) as they are.
const (
	DefaultUpstreamTimeout     = 10 * time.Second
	DefaultUpstreamRetries     = 2
	DefaultUpstreamConcurrency = 256
	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerMinRequests  = 20
	DefaultBreakerOpenFor      = 10 * time.Second
	minUpstreamTimeout         = 10 * time.Millisecond
	maxUpstreamTimeout         = 60 * time.Second // the gateway's write timeout
	maxUpstreamRetries         = 5
	maxUpstreamConcurrency     = 65536
	maxBreakerMinRequests      = 100000
	minBreakerOpenFor          = 100 * time.Millisecond
	maxBreakerOpenFor          = 10 * time.Minute
)

// Resilience bounds how the gateway and every sidecar wait on, retry and shed load from one
// service's sidecar, so that one slow or failing service cannot take its callers down. Each
// caller keeps its own limits and breaker: max_concurrent caps the gateway's calls, and
// each sidecar's, separately.
type Resilience struct {
	// Timeout bounds a whole request to the service, retries and response body included;
	// past it the client gets 504. Default 10s, between 10ms and 60s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is how many times an idempotent request (GET, HEAD, OPTIONS, PUT, DELETE)
	// without a body is sent again after a connection error, 502 or 503, with jittered
	// backoff and within a retry budget (retries add at most 20% to the requests of the
	// last 10s, plus 10). Default 2; 0 disables retries; at most 5.
	Retries int `yaml:"retries"`
	// MaxConcurrent caps the requests in flight to the service; the next one gets 503 at
	// once instead of waiting. Default 256, between 1 and 65536.
	MaxConcurrent int `yaml:"max_concurrent"`
	// Breaker is the service's circuit breaker.
	Breaker Breaker `yaml:"breaker"`
}

// Breaker configures a circuit breaker. While it is open, requests get 503 at once, with
// Retry-After; after OpenFor one probe request is let through (half-open), and its success
// closes the breaker again while its failure reopens it. Connection errors, timeouts and 5xx
// answers are failures; 4xx answers are not.
type Breaker struct {
	// FailureRatio opens the breaker when at least this share of the recent requests
	// failed. Default 0.5, greater than 0 and at most 1.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is how many recent requests must have been seen before the ratio counts.
	// Default 20, between 1 and 100000.
	MinRequests int `yaml:"min_requests"`
	// OpenFor is how long the breaker stays open before it half-opens. Default 10s,
	// between 100ms and 10m.
	OpenFor time.Duration `yaml:"open_for"`
}

// DefaultResilience is the resilience of an upstream that configures none.
func DefaultResilience() Resilience {
	return Resilience{
		Timeout:       DefaultUpstreamTimeout,
		Retries:       DefaultUpstreamRetries,
		MaxConcurrent: DefaultUpstreamConcurrency,
		Breaker: Breaker{
			FailureRatio: DefaultBreakerFailureRatio,
			MinRequests:  DefaultBreakerMinRequests,
			OpenFor:      DefaultBreakerOpenFor,
		},
	}
}

// UpstreamResilience is the resilience of calls to the peer called name: its services[]
// entry's, or the defaults for a peer without one (the control plane).
func (c *Config) UpstreamResilience(name string) Resilience {
	if s, ok := c.Service(name); ok {
		return s.Resilience
	}
	return DefaultResilience()
}

// ProxyOptions is r as proxy.NewResilient takes it, for the peer called name; the caller
// adds its logger and state-change hook.
func (r Resilience) ProxyOptions(name string) proxy.ResilienceOptions {
	return proxy.ResilienceOptions{
		Name:          name,
		Timeout:       r.Timeout,
		Retries:       r.Retries,
		MaxConcurrent: r.MaxConcurrent,
		Breaker: proxy.BreakerOptions{
			FailureRatio: r.Breaker.FailureRatio,
			MinRequests:  r.Breaker.MinRequests,
			OpenFor:      r.Breaker.OpenFor,
		},
	}
}

// applyResilienceDefaults fills the keys a service leaves out. A key written with a zero
// value is kept, so that validation refuses it ("timeout: 0s" is not "the default"), except
// retries, where 0 means no retries.
func (c *Config) applyResilienceDefaults() {
	d := DefaultResilience()
	for i := range c.Services {
		r := &c.Services[i].Resilience
		p := fmt.Sprintf("services[%d].resilience.", i)
		if r.Timeout == 0 && !c.written(p+"timeout") {
			r.Timeout = d.Timeout
		}
		if r.Retries == 0 && !c.written(p+"retries") {
			r.Retries = d.Retries
		}
		if r.MaxConcurrent == 0 && !c.written(p+"max_concurrent") {
			r.MaxConcurrent = d.MaxConcurrent
		}
		if r.Breaker.FailureRatio == 0 && !c.written(p+"breaker.failure_ratio") {
			r.Breaker.FailureRatio = d.Breaker.FailureRatio
		}
		if r.Breaker.MinRequests == 0 && !c.written(p+"breaker.min_requests") {
			r.Breaker.MinRequests = d.Breaker.MinRequests
		}
		if r.Breaker.OpenFor == 0 && !c.written(p+"breaker.open_for") {
			r.Breaker.OpenFor = d.Breaker.OpenFor
		}
	}
}

// written reports whether the file set the key at path (even to a zero value).
func (c *Config) written(path string) bool {
	_, ok := c.lines[path]
	return ok
}

// validateResilience checks one service's resilience block; p is its key path.
func (c *Config) validateResilience(p string, r Resilience) []error {
	var errs []error
	if r.Timeout < minUpstreamTimeout || r.Timeout > maxUpstreamTimeout {
		errs = append(errs, c.errAt(p+".timeout", "must be between %s and %s, got %s", minUpstreamTimeout, maxUpstreamTimeout, r.Timeout))
	}
	if r.Retries < 0 || r.Retries > maxUpstreamRetries {
		errs = append(errs, c.errAt(p+".retries", "must be between 0 (no retries) and %d, got %d", maxUpstreamRetries, r.Retries))
	}
	if r.MaxConcurrent < 1 || r.MaxConcurrent > maxUpstreamConcurrency {
		errs = append(errs, c.errAt(p+".max_concurrent", "must be between 1 and %d, got %d", maxUpstreamConcurrency, r.MaxConcurrent))
	}
	b := r.Breaker
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		errs = append(errs, c.errAt(p+".breaker.failure_ratio", "must be greater than 0 and at most 1, got %g", b.FailureRatio))
	}
	if b.MinRequests < 1 || b.MinRequests > maxBreakerMinRequests {
		errs = append(errs, c.errAt(p+".breaker.min_requests", "must be between 1 and %d, got %d", maxBreakerMinRequests, b.MinRequests))
	}
	if b.OpenFor < minBreakerOpenFor || b.OpenFor > maxBreakerOpenFor {
		errs = append(errs, c.errAt(p+".breaker.open_for", "must be between %s and %s, got %s", minBreakerOpenFor, maxBreakerOpenFor, b.OpenFor))
	}
	return errs
}
