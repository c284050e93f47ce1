package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every Bulwark metric.
const namespace = "bulwark"

// Registry holds one role's metrics. A nil *Registry is valid and records nothing, so
// that a role built without metrics (tests, embedding) pays only a nil check.
type Registry struct {
	role string
	reg  *prometheus.Registry
	// own registers Bulwark's metrics with the role label on every series, so that one
	// Prometheus job over every role's endpoint can tell them apart.
	own  prometheus.Registerer
	http *HTTP
	dec  *decisions
	brk  *breakers
	jwks *prometheus.CounterVec
}

// New returns the registry of one role ("gateway", "control", "sidecar/<service>"), with
// the Go runtime and process collectors. Every bulwark_ series carries role=<role>.
func New(role string) *Registry {
	r := &Registry{role: role, reg: prometheus.NewRegistry()}
	r.own = prometheus.WrapRegistererWith(prometheus.Labels{"role": role}, r.reg)
	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	r.http = newHTTP(r.own)
	r.dec = newDecisions(r.own)
	r.brk = newBreakers(r.own)
	r.jwks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "jwks_refreshes_total",
		Help: "JWKS fetches by issuer and result (ok, error, rate_limited).",
	}, []string{"issuer", "result"})
	r.own.MustRegister(r.jwks)
	return r
}

// Role is the role this registry belongs to.
func (r *Registry) Role() string {
	if r == nil {
		return ""
	}
	return r.role
}

// Gatherer is the underlying registry, for tests and for promhttp.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError, // one failing collector must not blank the page
		MaxRequestsInFlight: 4,
		Registry:            r.reg, // promhttp_metric_handler_errors_total
	})
}

// JWKSRefreshed counts one JWKS fetch of issuer; result is "ok", "error" or
// "rate_limited". Nil-safe.
func (r *Registry) JWKSRefreshed(issuer, result string) {
	if r == nil {
		return
	}
	r.jwks.WithLabelValues(issuer, result).Inc()
}
