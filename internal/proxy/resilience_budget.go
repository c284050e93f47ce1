package proxy

import (
	"errors"
	"sync"
	"time"
)

// Retry budget defaults: retries may add 20% to the requests of the last 10s, plus 10.
const (
	DefaultRetryRatio  = 0.2
	DefaultRetryFloor  = 10
	DefaultRetryWindow = 10 * time.Second
)

// budgetBuckets is how many slices the sliding window is cut into.
const budgetBuckets = 10

// RetryBudget caps the retries sent to one upstream at a share of the requests it was sent
// over a sliding window, plus a small floor so that a quiet upstream can still be retried.
// Without it, retries multiply the load on an upstream exactly when it is struggling.
// It is safe for concurrent use.
type RetryBudget struct {
	ratio  float64
	floor  int
	bucket time.Duration
	now    func() time.Time

	mu      sync.Mutex
	buckets [budgetBuckets]budgetBucket
}

type budgetBucket struct {
	epoch    int64 // which bucket-sized slice of time the counts belong to
	requests int
	retries  int
}

// NewRetryBudget returns a budget that allows floor + ratio × requests retries over window.
// now is the clock (time.Now when nil).
func NewRetryBudget(ratio float64, floor int, window time.Duration, now func() time.Time) (*RetryBudget, error) {
	switch {
	case !(ratio >= 0 && ratio <= 1):
		return nil, errors.New("retry budget: ratio must be between 0 and 1")
	case floor < 0:
		return nil, errors.New("retry budget: floor must not be negative")
	case window < budgetBuckets*time.Millisecond:
		return nil, errors.New("retry budget: window must be at least 10ms")
	}
	if now == nil {
		now = time.Now
	}
	return &RetryBudget{ratio: ratio, floor: floor, bucket: window / budgetBuckets, now: now}, nil
}

// Request records one original (not retried) request.
func (b *RetryBudget) Request() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.current().requests++
}

// TryRetry takes one retry from the budget and reports whether there was one to take.
func (b *RetryBudget) TryRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.current()
	requests, retries := 0, 0
	for i := range b.buckets {
		if bk := &b.buckets[i]; bk.epoch > cur.epoch-budgetBuckets {
			requests += bk.requests
			retries += bk.retries
		}
	}
	if float64(retries) >= float64(b.floor)+b.ratio*float64(requests) {
		return false
	}
	cur.retries++
	return true
}

// current returns the bucket for now, emptying it first if it held an older slice of time.
// b.mu must be held.
func (b *RetryBudget) current() *budgetBucket {
	epoch := b.now().UnixNano() / int64(b.bucket)
	bk := &b.buckets[(epoch%budgetBuckets+budgetBuckets)%budgetBuckets] // a clock before 1970 gives negative epochs
	if bk.epoch != epoch {
		*bk = budgetBucket{epoch: epoch}
	}
	return bk
}
