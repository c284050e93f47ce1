package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for Local and Fallback.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// drive makes n requests for key, advancing the clock by step before each, and counts
// the allowed ones.
func drive(t *testing.T, l Limiter, clk *fakeClock, key string, lim Limit, n int, step time.Duration) int {
	t.Helper()
	allowed := 0
	for range n {
		if clk != nil {
			clk.Advance(step)
		}
		res, err := l.Allow(context.Background(), key, lim)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		if res.Allowed {
			allowed++
		}
	}
	return allowed
}

func TestLocalCounts(t *testing.T) {
	tests := []struct {
		name string
		lim  Limit
		n    int
		step time.Duration
		want int
	}{
		{name: "burst only, no time passes", lim: Limit{Rate: 5, Burst: 10}, n: 50, step: 0, want: 10},
		{name: "burst then rate over 2.04s", lim: Limit{Rate: 5, Burst: 10}, n: 205, step: 10 * time.Millisecond, want: 10 + 5*2},
		{name: "slower than the rate: all pass", lim: Limit{Rate: 5, Burst: 1}, n: 20, step: 250 * time.Millisecond, want: 20},
		{name: "fractional rate over 10.4s", lim: Limit{Rate: 0.5, Burst: 1}, n: 105, step: 100 * time.Millisecond, want: 1 + 5},
		{name: "burst one", lim: Limit{Rate: 1, Burst: 1}, n: 3, step: 0, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			l := NewLocal(LocalOptions{Now: clk.Now})
			if got := drive(t, l, clk, "k", tt.lim, tt.n, tt.step); got != tt.want {
				t.Errorf("allowed: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLocalResult(t *testing.T) {
	clk := newClock()
	l := NewLocal(LocalOptions{Now: clk.Now})
	lim := Limit{Rate: 2, Burst: 3}
	want := []Result{
		{Allowed: true, Limit: lim, Remaining: 2, ResetAfter: 500 * time.Millisecond},
		{Allowed: true, Limit: lim, Remaining: 1, ResetAfter: time.Second},
		{Allowed: true, Limit: lim, Remaining: 0, ResetAfter: 1500 * time.Millisecond},
		{Allowed: false, Limit: lim, Remaining: 0, RetryAfter: 500 * time.Millisecond, ResetAfter: 1500 * time.Millisecond},
	}
	for i, w := range want {
		got, err := l.Allow(context.Background(), "k", lim)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("request %d: got %+v, want %+v", i, got, w)
		}
	}
	clk.Advance(500 * time.Millisecond)
	if got, _ := l.Allow(context.Background(), "k", lim); !got.Allowed {
		t.Errorf("after RetryAfter: got refused, want allowed")
	}
}

func TestLocalKeysAreIndependent(t *testing.T) {
	clk := newClock()
	l := NewLocal(LocalOptions{Now: clk.Now})
	lim := Limit{Rate: 1, Burst: 2}
	for _, key := range []string{"alice", "bob"} {
		if got := drive(t, l, clk, key, lim, 5, 0); got != 2 {
			t.Errorf("%s allowed: got %d, want 2", key, got)
		}
	}
}

func TestLocalBoundsKeys(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
		keys    int
		step    time.Duration
		wantLen int
	}{
		{name: "random keys stop at MaxKeys", maxKeys: 100, keys: 10_000, wantLen: 100},
		{name: "idle full buckets expire", maxKeys: 1000, keys: 50, step: time.Minute, wantLen: 10}, // 10m TTL at 1m steps: 9 younger keys plus the new one
		{name: "under the bound nothing is dropped", maxKeys: 1000, keys: 500, wantLen: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			l := NewLocal(LocalOptions{MaxKeys: tt.maxKeys, Now: clk.Now})
			for i := range tt.keys {
				clk.Advance(tt.step)
				if _, err := l.Allow(context.Background(), fmt.Sprint("key-", i), Limit{Rate: 10, Burst: 1}); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.Len(); got != tt.wantLen {
				t.Errorf("keys held: got %d, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestLocalKeepsDrainedIdleBucket(t *testing.T) {
	// A bucket that has not refilled is not dropped by the idle TTL: dropping it would
	// hand the key a fresh burst.
	clk := newClock()
	l := NewLocal(LocalOptions{IdleTTL: time.Second, Now: clk.Now})
	slow := Limit{Rate: 0.01, Burst: 1} // refills in 100s
	if got := drive(t, l, clk, "slow", slow, 1, 0); got != 1 {
		t.Fatalf("first request: got %d allowed, want 1", got)
	}
	clk.Advance(10 * time.Second)
	drive(t, l, clk, "other", slow, 1, 0) // an insert runs the expiry sweep
	if got := drive(t, l, clk, "slow", slow, 1, 0); got != 0 {
		t.Errorf("after 10s of a 100s refill: got %d allowed, want 0", got)
	}
}

func TestLocalRefusesBadLimits(t *testing.T) {
	l := NewLocal(LocalOptions{})
	for _, lim := range []Limit{{Rate: 0, Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1, Burst: 0}} {
		if _, err := l.Allow(context.Background(), "k", lim); err == nil {
			t.Errorf("Allow(%+v): got nil error, want one", lim)
		}
	}
}
