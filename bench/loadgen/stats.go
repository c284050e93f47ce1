package main

import (
	"crypto/tls"
	"math"
	"time"
)

// percentile is the p-th percentile (0 < p ≤ 100) of sorted samples by the nearest-rank
// method: the smallest sample that at least p% of all samples do not exceed. It is exact —
// one of the recorded samples, no interpolation, no histogram buckets. Zero when empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	// p·n/100 rather than p/100·n keeps whole ranks exact (99·100/100 = 99); the epsilon
	// absorbs the error of percentiles such as 99.9 that have no exact binary form.
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9))
	return sorted[min(max(rank, 1), n)-1]
}

// summary is the JSON loadgen prints. Latencies are milliseconds.
type summary struct {
	Target      string         `json:"target"`
	Mode        string         `json:"mode"` // "open" (fixed rate) or "closed" (saturation)
	OfferedRate float64        `json:"offered_rate,omitempty"`
	Conns       int            `json:"conns"`
	Streams     int            `json:"streams"`
	Proto       string         `json:"proto"`
	TLS         string         `json:"tls,omitempty"`
	WarmupS     float64        `json:"warmup_s"`
	DurationS   float64        `json:"duration_s"`
	WindowS     float64        `json:"window_s"` // from the end of the warm-up to the last measured completion
	Sent        int            `json:"sent"`     // warm-up included
	Measured    int            `json:"measured"`
	OK          int            `json:"ok"`
	Errors      int            `json:"errors"`
	ErrorKinds  map[string]int `json:"error_kinds"`
	RPS         float64        `json:"rps"` // measured successes per second of the window
	MeanMS      float64        `json:"mean_ms"`
	P50MS       float64        `json:"p50_ms"`
	P90MS       float64        `json:"p90_ms"`
	P99MS       float64        `json:"p99_ms"`
	P999MS      float64        `json:"p999_ms"`
	MaxMS       float64        `json:"max_ms"`
	MaxLagMS    float64        `json:"max_send_lag_ms"` // open loop: latest send after a due time
	// Open loop only: latency from when each request was actually sent, as a closed-loop tool
	// would report it. The gap to p50_ms/p99_ms is time spent waiting to be sent — behind a
	// busy server, or on a busy load generator.
	SendP50MS float64 `json:"send_p50_ms,omitempty"`
	SendP99MS float64 `json:"send_p99_ms,omitempty"`
	// Cores used during the measured window (Linux /proc), by the machine, the load generator
	// and the servers (-watch-pgid). other_cores well above zero means other work competed.
	CPU *cpuUse `json:"cpu,omitempty"`
}

func summarize(o *options, r report) summary {
	s := summary{
		Target: o.target.String(), Mode: r.mode, OfferedRate: o.rate, Conns: o.conns, Streams: o.streams,
		Proto: r.proto, TLS: tlsName(r.tls), WarmupS: o.warmup.Seconds(), DurationS: o.duration.Seconds(),
		WindowS: r.window.Seconds(), Sent: r.sent, OK: len(r.ok), ErrorKinds: r.errs,
		P50MS: ms(percentile(r.ok, 50)), P90MS: ms(percentile(r.ok, 90)), P99MS: ms(percentile(r.ok, 99)),
		P999MS: ms(percentile(r.ok, 99.9)), MaxMS: ms(percentile(r.ok, 100)), MaxLagMS: ms(r.maxLag),
		SendP50MS: ms(percentile(r.okSend, 50)), SendP99MS: ms(percentile(r.okSend, 99)),
	}
	for _, v := range r.errs {
		s.Errors += v
	}
	s.Measured = s.OK + s.Errors
	if r.window > 0 {
		s.RPS = round3(float64(s.OK) / r.window.Seconds())
	}
	if len(r.ok) > 0 {
		var sum time.Duration
		for _, d := range r.ok {
			sum += d
		}
		s.MeanMS = ms(sum / time.Duration(len(r.ok)))
	}
	return s
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func tlsName(v uint16) string {
	if v == 0 {
		return ""
	}
	return tls.VersionName(v)
}
