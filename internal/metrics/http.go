package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of a request answered before any route matched it
// (404, or refused by a check that runs before routing).
const RouteUnmatched = "unmatched"

// latencyBuckets span a cached local answer (1 ms) to a slow upstream (10 s).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// classes are the code_class label values, indexed by code/100; 0 is anything outside
// 100–599.
var classes = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// HTTP counts requests and their latency by route and status. Each route's series are
// resolved once and kept, so that observing a request costs two atomic adds and no
// allocation: the request path of the gateway is not the place for label hashing.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mu       sync.Mutex                              // serializes adding a route
	routes   atomic.Pointer[map[string]*routeSeries] // copy on write
}

// routeSeries are one route's pre-resolved series.
type routeSeries struct {
	route string
	dur   [len(classes)]prometheus.Observer
	codes [600]atomic.Pointer[codeCounter] // by status code; index 0 for out-of-range codes
}

type codeCounter struct{ c prometheus.Counter }

func newHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "Requests served, by route (the configured pattern; inbound or outbound on a sidecar) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from the request reaching the role to the handler returning, by route and status class.",
			Buckets: latencyBuckets,
		}, []string{"route", "code_class"}),
	}
	empty := map[string]*routeSeries{}
	h.routes.Store(&empty)
	reg.MustRegister(h.requests, h.duration)
	return h
}

// Observe records one request on route (a configured pattern, "" for RouteUnmatched) that
// was answered with code after d.
func (h *HTTP) Observe(route string, code int, d time.Duration) {
	if route == "" {
		route = RouteUnmatched
	}
	rs := h.series(route)
	i := code
	if code < 100 || code > 599 {
		i = 0
	}
	rs.dur[i/100].Observe(d.Seconds())
	cc := rs.codes[i].Load()
	if cc == nil {
		label := classes[0]
		if i != 0 {
			label = strconv.Itoa(code)
		}
		cc = &codeCounter{c: h.requests.WithLabelValues(route, label)}
		if !rs.codes[i].CompareAndSwap(nil, cc) {
			cc = rs.codes[i].Load()
		}
	}
	cc.c.Inc()
}

func (h *HTTP) series(route string) *routeSeries {
	if rs, ok := (*h.routes.Load())[route]; ok {
		return rs
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := *h.routes.Load()
	if rs, ok := cur[route]; ok {
		return rs
	}
	rs := &routeSeries{route: route}
	for i, c := range classes {
		rs.dur[i] = h.duration.WithLabelValues(route, c)
	}
	next := make(map[string]*routeSeries, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[route] = rs
	h.routes.Store(&next)
	return rs
}

// HTTP returns the registry's request metrics; nil for a nil registry.
func (r *Registry) HTTP() *HTTP {
	if r == nil {
		return nil
	}
	return r.http
}
