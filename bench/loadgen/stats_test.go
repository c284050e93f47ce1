package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	seq := func(n int) []time.Duration { // 1ms, 2ms, … n ms
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i+1) * time.Millisecond
		}
		return s
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", seq(1), 50, 1 * time.Millisecond},
		{"one sample p99", seq(1), 99, 1 * time.Millisecond},
		{"two samples p50 is the lower", seq(2), 50, 1 * time.Millisecond},
		{"two samples p51 is the upper", seq(2), 51, 2 * time.Millisecond},
		{"100 p50", seq(100), 50, 50 * time.Millisecond},
		{"100 p99", seq(100), 99, 99 * time.Millisecond},
		{"100 p100 is the max", seq(100), 100, 100 * time.Millisecond},
		{"1000 p99.9", seq(1000), 99.9, 999 * time.Millisecond},
		{"1000 p99", seq(1000), 99, 990 * time.Millisecond},
		{"10 p99 rounds up to the max", seq(10), 99, 10 * time.Millisecond},
		{"10 p90", seq(10), 90, 9 * time.Millisecond},
		{"tiny p is the min", seq(10), 0.001, 1 * time.Millisecond},
		{"ties", []time.Duration{1, 1, 1, 5}, 75, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.samples, tc.p); got != tc.want {
				t.Errorf("percentile(p%g of %d) = %v, want %v", tc.p, len(tc.samples), got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	o := &options{target: mustURL(t, "https://127.0.0.1:1/x"), conns: 2, streams: 1, rate: 100,
		warmup: time.Second, duration: 2 * time.Second}
	r := report{
		mode:   "open",
		ok:     []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond},
		errs:   map[string]int{"status_503": 1, "timeout": 1},
		window: 2 * time.Second,
	}
	s := summarize(o, r)
	if s.OK != 4 || s.Errors != 2 || s.Measured != 6 {
		t.Errorf("ok, errors, measured = %d, %d, %d; want 4, 2, 6", s.OK, s.Errors, s.Measured)
	}
	if s.RPS != 2 {
		t.Errorf("rps = %g, want 2 (4 successes in 2 s; errors do not count)", s.RPS)
	}
	if s.P50MS != 2 || s.P99MS != 4 || s.MaxMS != 4 || s.MeanMS != 2.5 {
		t.Errorf("p50, p99, max, mean = %g, %g, %g, %g; want 2, 4, 4, 2.5", s.P50MS, s.P99MS, s.MaxMS, s.MeanMS)
	}
}
