package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrUnavailable means the limiter could not decide (Redis is unreachable and the
// fallback is configured to deny). Callers fail closed: the gateway answers 429, never a
// 5xx, since no upstream failed.
var ErrUnavailable = errors.New("rate limiter unavailable")

// Limit is a token bucket: Rate requests per second sustained, Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// check refuses limits that would mean "no limit" or "never".
func (l Limit) check() error {
	if !(l.Rate > 0) || math.IsInf(l.Rate, 1) || l.Burst < 1 {
		return fmt.Errorf("ratelimit: invalid limit %g/s burst %d", l.Rate, l.Burst)
	}
	return nil
}

// fillTime is how long an empty bucket takes to refill completely.
func (l Limit) fillTime() time.Duration {
	return time.Duration(float64(l.Burst) / l.Rate * float64(time.Second))
}

// Result is one decision.
type Result struct {
	// Allowed reports whether the request may pass; it used one token if so.
	Allowed bool
	// Limit is the limit that was applied.
	Limit Limit
	// Remaining is how many more requests the key could make right now.
	Remaining int
	// RetryAfter is, when the request was refused, how long until one would be allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again.
	ResetAfter time.Duration
}

// Limiter decides whether one request for key may pass under lim. Implementations are
// safe for concurrent use. An error means no decision was made.
type Limiter interface {
	Allow(ctx context.Context, key string, lim Limit) (Result, error)
}
