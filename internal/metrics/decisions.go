package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// kindRateLimit is the audit kind of a request refused by a rate limit (the gateway's).
const kindRateLimit = "ratelimit"

// Outcome label values of bulwark_authz_decisions_total. would_deny is an allow that a
// dry-run policy would have denied: counted apart so a dry run's effect can be watched
// before it is enforced.
const (
	OutcomeAllow     = "allow"
	OutcomeDeny      = "deny"
	OutcomeWouldDeny = "would_deny"
)

type decisions struct {
	authz    *prometheus.CounterVec
	authn    *prometheus.CounterVec
	limited  *prometheus.CounterVec
	failures *prometheus.CounterVec
	latency  prometheus.Histogram
}

func newDecisions(reg prometheus.Registerer) *decisions {
	d := &decisions{
		authz: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "authz_decisions_total",
			Help: "Authorization decisions that were audited, by deciding component and outcome (allow, deny, would_deny).",
		}, []string{"component", "outcome"}),
		authn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "authn_decisions_total",
			Help: "Token and credential checks that were audited, by component and outcome (allow, deny).",
		}, []string{"component", "outcome"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_requests_total",
			Help: "Requests refused by a rate limit (429), by route pattern.",
		}, []string{"route"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "audit_record_failures_total",
			Help: "Audit events that could not be recorded, by component (the request was refused unless audit.unsafe_fail_open).",
		}, []string{"component"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "audit_record_duration_seconds",
			Help:    "Time to record one audit event durably (append and fsync, batched with concurrent events).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	reg.MustRegister(d.authz, d.authn, d.limited, d.failures, d.latency)
	return d
}

// recorder counts the decisions in the audit events it passes on: every allow and deny
// is an audit event (security invariant 6), so counting there sees exactly the decisions
// that took effect, and no decision code has to know about metrics.
type recorder struct {
	next  audit.Recorder
	d     *decisions
	route func(rule string) string
}

// Recorder wraps next so that every event recorded through it updates this role's
// decision counters and audit latency. route maps a rate-limit event's rule
// ("gateway.routes[2]") to the route's pattern; nil keeps the rule. A nil registry
// returns next.
func (r *Registry) Recorder(next audit.Recorder, route func(rule string) string) audit.Recorder {
	if r == nil {
		return next
	}
	return &recorder{next: next, d: r.dec, route: route}
}

func (rc *recorder) Record(ctx context.Context, e audit.Event) error {
	start := time.Now()
	err := rc.next.Record(ctx, e)
	rc.d.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		rc.d.failures.WithLabelValues(e.Component).Inc()
		return err
	}
	switch e.Kind {
	case audit.KindAuthz:
		outcome := e.Outcome
		if outcome == audit.Allow && e.WouldDeny {
			outcome = OutcomeWouldDeny
		}
		rc.d.authz.WithLabelValues(e.Component, outcome).Inc()
	case audit.KindAuthn:
		rc.d.authn.WithLabelValues(e.Component, e.Outcome).Inc()
	case kindRateLimit:
		route := e.Rule
		if rc.route != nil {
			route = rc.route(e.Rule)
		}
		rc.d.limited.WithLabelValues(route).Inc()
	}
	return nil
}
