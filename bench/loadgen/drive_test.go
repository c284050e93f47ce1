package main

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestDueTime(t *testing.T) {
	tests := []struct {
		name string
		i    int
		rate float64
		want time.Duration
	}{
		{"first is due at once", 0, 1000, 0},
		{"1000/s second", 1, 1000, time.Millisecond},
		{"1000/s 8000th", 8000, 1000, 8 * time.Second},
		{"500/s", 3, 500, 6 * time.Millisecond},
		{"fractional rate", 1, 3, 333_333_333 * time.Nanosecond},
		{"no drift over a long run", 3_000_000, 3, 1_000_000 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := dueTime(tc.i, tc.rate); got != tc.want {
				t.Errorf("dueTime(%d, %g) = %v, want %v", tc.i, tc.rate, got, tc.want)
			}
		})
	}
}

func TestPlannedRequests(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		rate float64
		max  int
		want int
	}{
		{"whole seconds", 10 * time.Second, 1000, 1e9, 10000},
		{"quick run", 10 * time.Second, 500, 1e9, 5000},
		{"capped", 10 * time.Second, 1000, 1234, 1234},
		{"partial interval counts the request due in it", 1500 * time.Millisecond, 1, 1e9, 2},
		{"fractional rate", 10 * time.Second, 0.5, 1e9, 5},
		{"zero length", 0, 1000, 1e9, 0},
		{"odd duration", 2100 * time.Millisecond, 1000, 1e9, 2100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plannedRequests(tc.d, tc.rate, tc.max); got != tc.want {
				t.Errorf("plannedRequests(%v, %g, %d) = %d, want %d", tc.d, tc.rate, tc.max, got, tc.want)
			}
		})
	}
}

// instant answers every request at once with 200.
func instant(context.Context) result { return result{status: http.StatusOK, proto: "HTTP/1.1"} }

// serialServer answers one request at a time, each taking service: a server with one slot.
func serialServer(service time.Duration) sender {
	var mu sync.Mutex
	return func(ctx context.Context) result {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(service)
		return result{status: http.StatusOK}
	}
}

func TestRunOpenCountsByDueTime(t *testing.T) {
	p := plan{rate: 1000, warmup: 100 * time.Millisecond, duration: 200 * time.Millisecond, maxRequests: 1e6, drain: time.Second, expect: 200}
	r := runOpen(context.Background(), []sender{instant, instant}, p)
	if r.sent != 300 {
		t.Errorf("sent %d, want 300 (0.3 s at 1000/s, warm-up included)", r.sent)
	}
	if len(r.ok) != 200 {
		t.Errorf("measured %d, want 200 (those due after the 0.1 s warm-up)", len(r.ok))
	}
	if len(r.errs) != 0 {
		t.Errorf("errors %v, want none", r.errs)
	}
}

// A server slower than the offered rate must not lower the rate or hide the queueing: every
// planned request is sent, and latency includes the time spent waiting behind the others.
func TestRunOpenAvoidsCoordinatedOmission(t *testing.T) {
	const service = 20 * time.Millisecond
	p := plan{rate: 100, duration: 200 * time.Millisecond, maxRequests: 1e6, drain: 5 * time.Second, expect: 200}
	srv := serialServer(service)
	r := runOpen(context.Background(), []sender{srv, srv, srv, srv}, p)
	if r.sent != 20 {
		t.Fatalf("sent %d, want 20: the schedule, not the server, sets the request count", r.sent)
	}
	// Request i is due at i·10ms and, behind i others of 20ms, done at (i+1)·20ms or later:
	// the last one waited at least 19·20 + 20 − 190 = 210ms.
	if got, min := percentile(r.ok, 100), 210*time.Millisecond; got < min {
		t.Errorf("max latency %v, want at least %v (queueing must count)", got, min)
	}
	// A closed loop on the same server sees only the service time, which is the omission
	// the open loop exists to avoid.
	cr := runClosed(context.Background(), []sender{serialServer(service)}, plan{duration: 200 * time.Millisecond, maxRequests: 1e6, expect: 200})
	if got := percentile(cr.ok, 100); got > 150*time.Millisecond {
		t.Errorf("closed-loop max latency %v, want about the 20ms service time", got)
	}
}

func TestRunOpenStopsSendingAfterDrain(t *testing.T) {
	slow := func(ctx context.Context) result { time.Sleep(100 * time.Millisecond); return result{status: 200} }
	p := plan{rate: 100, duration: 200 * time.Millisecond, maxRequests: 1e6, drain: 50 * time.Millisecond, expect: 200}
	r := runOpen(context.Background(), []sender{slow}, p)
	if r.errs["not_sent"] == 0 {
		t.Errorf("errors %v, want some not_sent: 20 requests of 100ms cannot all go out within 250ms", r.errs)
	}
	if r.sent+r.errs["not_sent"] != 20 {
		t.Errorf("sent %d + not_sent %d, want 20", r.sent, r.errs["not_sent"])
	}
}

func TestRunClosed(t *testing.T) {
	t.Run("max requests bounds the run", func(t *testing.T) {
		var n atomic.Int64
		count := func(ctx context.Context) result { n.Add(1); return instant(ctx) }
		p := plan{duration: time.Minute, maxRequests: 50, expect: 200}
		start := time.Now()
		r := runClosed(context.Background(), []sender{count, count, count}, p)
		if r.sent != 50 || n.Load() != 50 {
			t.Errorf("sent %d (sender saw %d), want 50", r.sent, n.Load())
		}
		if time.Since(start) > 30*time.Second {
			t.Errorf("ran %v: the request cap did not end the run", time.Since(start))
		}
	})
	t.Run("warm-up excluded, errors classified", func(t *testing.T) {
		var n atomic.Int64
		flaky := func(ctx context.Context) result {
			time.Sleep(time.Millisecond)
			if n.Add(1)%2 == 0 {
				return result{status: http.StatusServiceUnavailable}
			}
			return result{status: http.StatusOK}
		}
		p := plan{warmup: 50 * time.Millisecond, duration: 100 * time.Millisecond, maxRequests: 1e6, expect: 200}
		r := runClosed(context.Background(), []sender{flaky}, p)
		measured := len(r.ok) + r.errs["status_503"]
		if measured == 0 || measured >= r.sent {
			t.Errorf("measured %d of %d sent, want some but fewer than all (warm-up excluded)", measured, r.sent)
		}
		if r.errs["status_503"] == 0 || len(r.errs) != 1 {
			t.Errorf("errors %v, want only status_503", r.errs)
		}
	})
	t.Run("canceled context stops the run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := runClosed(ctx, []sender{instant}, plan{duration: time.Minute, maxRequests: 1e6, expect: 200})
		if r.sent != 0 {
			t.Errorf("sent %d after cancel, want 0", r.sent)
		}
	})
}
