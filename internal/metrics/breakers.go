package metrics

import (
	"sort"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// BreakerStates are the circuit breaker states, as gobreaker names them.
var BreakerStates = []string{"closed", "half-open", "open"}

// breakers reports each upstream's breaker state at scrape time, from whatever the role
// currently routes to, so a hot reload that keeps or replaces an upstream needs no
// bookkeeping; transitions are counted as they happen.
type breakers struct {
	desc        *prometheus.Desc
	states      atomic.Pointer[func() map[string]string]
	transitions *prometheus.CounterVec
}

func newBreakers(reg prometheus.Registerer) *breakers {
	b := &breakers{
		desc: prometheus.NewDesc(namespace+"_circuit_breaker_state",
			"1 for the current state of each upstream's circuit breaker (closed, half-open, open), 0 for the others.",
			[]string{"upstream", "state"}, nil),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "circuit_breaker_transitions_total",
			Help: "Circuit breaker state changes, by upstream and the state entered.",
		}, []string{"upstream", "to"}),
	}
	reg.MustRegister(b, b.transitions)
	return b
}

func (b *breakers) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *breakers) Collect(ch chan<- prometheus.Metric) {
	f := b.states.Load()
	if f == nil {
		return
	}
	states := (*f)()
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, s := range BreakerStates {
			v := 0.0
			if s == states[n] {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, v, n, s)
		}
	}
}

// WatchBreakers makes states the source of bulwark_circuit_breaker_state: it returns the
// state of each upstream's breaker, by upstream name. A later call replaces the source.
// Nil-safe.
func (r *Registry) WatchBreakers(states func() map[string]string) {
	if r == nil {
		return
	}
	r.brk.states.Store(&states)
}

// BreakerChanged counts a state change of upstream's breaker; it fits
// proxy.ResilienceOptions.OnStateChange. Nil-safe.
func (r *Registry) BreakerChanged(upstream, _, to string) {
	if r == nil {
		return
	}
	r.brk.transitions.WithLabelValues(upstream, to).Inc()
}
