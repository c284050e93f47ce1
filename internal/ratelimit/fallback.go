package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultRetryEvery is how often a Fallback tries Redis again while it is down.
const DefaultRetryEvery = time.Second

// FallbackOptions configures a Fallback. Primary, Secondary and Log are required.
type FallbackOptions struct {
	// Primary is the shared limiter (Redis).
	Primary Limiter
	// Secondary decides while Primary fails (a Local limiter). Unused when Deny is set.
	Secondary Limiter
	// Deny makes Allow return ErrUnavailable while Primary fails, instead of asking
	// Secondary (on_redis_error: deny).
	Deny bool
	// RetryEvery is how often Primary is tried again while down; default 1s.
	RetryEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives one line when Primary goes down and one when it is back.
	Log *slog.Logger
}

// Fallback asks Primary and, while Primary fails, Secondary (or denies). It never returns
// Primary's error: in local mode it always decides, in deny mode it returns ErrUnavailable.
type Fallback struct {
	o FallbackOptions

	mu      sync.Mutex
	down    bool
	probing bool      // one request is trying Primary while down
	retryAt time.Time // when Primary may be tried again
}

var _ Limiter = (*Fallback)(nil)

// NewFallback checks o and returns a Fallback that starts by trusting Primary.
func NewFallback(o FallbackOptions) (*Fallback, error) {
	if o.Primary == nil || o.Log == nil || (o.Secondary == nil && !o.Deny) {
		return nil, errors.New("ratelimit: fallback needs Primary, Log and Secondary (or Deny)")
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = DefaultRetryEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Fallback{o: o}, nil
}

// Allow decides with Primary when it is up (or due for a retry), else with Secondary.
func (f *Fallback) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	if f.tryPrimary() {
		res, err := f.o.Primary.Allow(ctx, key, lim)
		switch {
		case err == nil:
			f.recovered()
			return res, nil
		case ctx.Err() != nil:
			// The client went away: not Redis's fault, so no state change.
			f.release()
		default:
			f.failed(err)
		}
	}
	if f.o.Deny {
		return Result{Limit: lim, RetryAfter: f.o.RetryEvery}, fmt.Errorf("ratelimit: %w", ErrUnavailable)
	}
	return f.o.Secondary.Allow(ctx, key, lim)
}

// Degraded reports whether Primary is currently considered down.
func (f *Fallback) Degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

// tryPrimary says whether this request should ask Primary: always while it is up; while
// it is down, one request at a time once retryAt has passed.
func (f *Fallback) tryPrimary() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return true
	}
	if f.probing || f.o.Now().Before(f.retryAt) {
		return false
	}
	f.probing = true
	return true
}

func (f *Fallback) release() {
	f.mu.Lock()
	f.probing = false
	f.mu.Unlock()
}

func (f *Fallback) failed(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	f.retryAt = f.o.Now().Add(f.o.RetryEvery)
	if f.down {
		return
	}
	f.down = true
	mode := "local limits per replica"
	if f.o.Deny {
		mode = "denying rate-limited requests (429)"
	}
	f.o.Log.Warn("rate limiter: redis unreachable, falling back", "mode", mode, "retry_every", f.o.RetryEvery.String(), "error", err.Error())
}

func (f *Fallback) recovered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probing = false
	if f.down {
		f.down = false
		f.o.Log.Info("rate limiter: redis reachable again, shared limits restored")
	}
}
