package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// dueTime is when request i of an open-loop run at rate requests per second is due,
// relative to the run's start. It is computed from i, not by adding intervals, so rounding
// does not drift over a long run.
func dueTime(i int, rate float64) time.Duration {
	return time.Duration(float64(i) * float64(time.Second) / rate)
}

// plannedRequests is how many requests an open-loop run of length d at rate per second
// sends: those due in [0, d), capped at maxRequests.
func plannedRequests(d time.Duration, rate float64, maxRequests int) int {
	// The count of i ≥ 0 with i/rate < d is ceil(d·rate); the epsilon keeps 8s × 1000/s at
	// 8000 when the product comes out a hair above the integer.
	n := int(math.Ceil(d.Seconds()*rate - 1e-9))
	return max(0, min(n, maxRequests))
}

// tally is what one worker recorded. Workers never share one, so recording takes no lock.
type tally struct {
	open    bool            // an open-loop run: latency runs from the due time, not the send
	sent    int             // every request sent, warm-up included
	ok      []time.Duration // latencies of the measured successes (open loop: from the due time)
	okSend  []time.Duration // the same from when each was sent (open loop only)
	errs    map[string]int  // measured failures by kind
	lastEnd time.Duration   // when the last measured request completed, since the start
	maxLag  time.Duration   // open loop: how late the latest request went out after its due time
	proto   string
	tls     uint16
}

func (t *tally) record(res result, latency, sendLatency, end time.Duration, expect int) {
	if kind := res.kind(expect); kind != "" {
		t.errs[kind]++
	} else {
		t.ok = append(t.ok, latency)
		if t.open {
			t.okSend = append(t.okSend, sendLatency)
		}
	}
	t.lastEnd = max(t.lastEnd, end)
	if t.proto == "" && res.proto != "" {
		t.proto, t.tls = res.proto, res.tls
	}
}

// report is a finished run: every worker's tally merged, latencies sorted.
type report struct {
	mode   string
	sent   int
	ok     []time.Duration // sorted
	okSend []time.Duration // sorted; open loop only
	errs   map[string]int
	window time.Duration // from the end of the warm-up to the last measured completion
	maxLag time.Duration
	proto  string
	tls    uint16
}

func merge(mode string, warmup time.Duration, tallies []tally) report {
	r := report{mode: mode, errs: map[string]int{}}
	var lastEnd time.Duration
	for _, t := range tallies {
		r.sent += t.sent
		r.ok = append(r.ok, t.ok...)
		r.okSend = append(r.okSend, t.okSend...)
		for k, v := range t.errs {
			r.errs[k] += v
		}
		lastEnd = max(lastEnd, t.lastEnd)
		r.maxLag = max(r.maxLag, t.maxLag)
		if r.proto == "" {
			r.proto, r.tls = t.proto, t.tls
		}
	}
	slices.Sort(r.ok)
	slices.Sort(r.okSend)
	r.window = max(0, lastEnd-warmup)
	return r
}

func newTallies(n int) []tally {
	ts := make([]tally, n)
	for i := range ts {
		ts[i].errs = map[string]int{}
	}
	return ts
}

// runOpen sends requests on a fixed schedule: request i is due at start + i/rate. A
// dispatcher releases each request at its due time into a queue that holds the whole run, so
// it never waits for the server; idle workers take requests from the queue. Latency runs from
// the due time, so time spent queued behind a slow server counts (no coordinated omission).
// Requests due in the warm-up are sent and not counted; a request still queued at
// warmup+duration+drain is not sent and counts as "not_sent".
func runOpen(ctx context.Context, senders []sender, p plan) report {
	n := plannedRequests(p.warmup+p.duration, p.rate, p.maxRequests)
	queue := make(chan time.Duration, n)
	start := time.Now()
	stopSending := start.Add(p.warmup + p.duration + p.drain)

	go func() {
		defer close(queue)
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for i := range n {
			due := dueTime(i, p.rate)
			if wait := time.Until(start.Add(due)); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
			queue <- due
		}
	}()

	tallies := newTallies(len(senders))
	var wg sync.WaitGroup
	for w, send := range senders {
		wg.Go(func() {
			t := &tallies[w]
			t.open = true
			for due := range queue {
				dueAt := start.Add(due)
				measured := due >= p.warmup
				now := time.Now()
				if ctx.Err() != nil || now.After(stopSending) {
					if measured {
						t.errs["not_sent"]++
					}
					continue
				}
				res := send(ctx)
				end := time.Now()
				t.sent++
				if measured {
					t.maxLag = max(t.maxLag, now.Sub(dueAt))
					t.record(res, end.Sub(dueAt), end.Sub(now), end.Sub(start), p.expect)
				}
			}
		})
	}
	wg.Wait()
	return merge("open", p.warmup, tallies)
}

// runClosed keeps every sender busy: each sends its next request as soon as the previous one
// completes, until warmup+duration or maxRequests. Requests started in the warm-up are not
// counted; latency runs from when the request was sent.
func runClosed(ctx context.Context, senders []sender, p plan) report {
	start := time.Now()
	windowStart, windowEnd := start.Add(p.warmup), start.Add(p.warmup+p.duration)
	var issued atomic.Int64
	tallies := newTallies(len(senders))
	var wg sync.WaitGroup
	for w, send := range senders {
		wg.Go(func() {
			t := &tallies[w]
			for ctx.Err() == nil {
				begin := time.Now()
				if !begin.Before(windowEnd) || issued.Add(1) > int64(p.maxRequests) {
					return
				}
				res := send(ctx)
				end := time.Now()
				t.sent++
				if !begin.Before(windowStart) {
					t.record(res, end.Sub(begin), end.Sub(begin), end.Sub(start), p.expect)
				}
			}
		})
	}
	wg.Wait()
	return merge("closed", p.warmup, tallies)
}
