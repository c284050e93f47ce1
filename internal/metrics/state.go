package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// svidCollector reports the seconds until the current SVID of a workload expires,
// computed at scrape time from the source, so a stalled rotation shows as a falling line.
type svidCollector struct {
	desc *prometheus.Desc
	src  x509svid.Source
	now  func() time.Time
}

func (c *svidCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *svidCollector) Collect(ch chan<- prometheus.Metric) {
	svid, err := c.src.GetX509SVID()
	if err != nil || len(svid.Certificates) == 0 {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	left := svid.Certificates[0].NotAfter.Sub(c.now()).Seconds()
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, left, svid.ID.String())
}

// WatchSVID publishes bulwark_svid_expiry_seconds for the workload whose SVIDs src serves.
// Nil-safe.
func (r *Registry) WatchSVID(src x509svid.Source) error {
	if r == nil {
		return nil
	}
	return r.own.Register(&svidCollector{
		desc: prometheus.NewDesc(namespace+"_svid_expiry_seconds",
			"Seconds until the workload's current X.509-SVID expires (negative once expired).",
			[]string{"spiffe_id"}, nil),
		src: src, now: time.Now,
	})
}

// WatchRevocationFeed publishes the failures of the gateway's revocation feed follower
// (failures returns its running count). Nil-safe.
func (r *Registry) WatchRevocationFeed(failures func() int64) error {
	if r == nil {
		return nil
	}
	return r.own.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Name: "revocation_feed_failures_total",
		Help: "Failed requests to the control plane's token revocation feed; revocations are late while it fails.",
	}, func() float64 { return float64(failures()) }))
}

// AuditLogStats is what the tamper-evident audit log reports (auditlog.Log).
type AuditLogStats interface {
	// Pending is the number of events waiting for the next write and fsync.
	Pending() int
	// Size is the number of events in the log.
	Size() uint64
}

// WatchAuditLog publishes the audit log's queue depth and size. Nil-safe.
func (r *Registry) WatchAuditLog(l AuditLogStats) error {
	if r == nil {
		return nil
	}
	return registerAll(r.own,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "audit_queue_events",
			Help: "Audit events waiting for the audit log's next batched write and fsync.",
		}, func() float64 { return float64(l.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "audit_log_events",
			Help: "Events in the tamper-evident audit log (its Merkle tree size).",
		}, func() float64 { return float64(l.Size()) }),
	)
}

// AuditSpoolStats is the hook for a role's local audit spool (package audit/spool): how
// much the collector has not yet acknowledged, how much room the spool has, and how old
// the oldest undelivered event is.
type AuditSpoolStats struct {
	// Depth returns the events and bytes in the spool not yet acknowledged by the collector.
	Depth func() (events, bytes int64)
	// MaxBytes is the spool's bound (audit.spool_max_bytes): past it the role fails closed,
	// or open as configured.
	MaxBytes int64
	// Lag returns the age of the oldest event not yet acknowledged; 0 when all are. An
	// error leaves the gauge out of that scrape (and counts a scrape error) rather than
	// reporting 0, which would read as "all delivered".
	Lag func() (time.Duration, error)
}

// WatchAuditSpool publishes bulwark_audit_spool_events, bulwark_audit_spool_bytes,
// bulwark_audit_spool_max_bytes and bulwark_audit_delivery_lag_seconds. Nil-safe.
func (r *Registry) WatchAuditSpool(s AuditSpoolStats) error {
	if r == nil {
		return nil
	}
	if s.Depth == nil || s.Lag == nil {
		return errors.New("metrics: audit spool stats need Depth and Lag")
	}
	return registerAll(r.own,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "audit_spool_events",
			Help: "Audit events in the local spool not yet acknowledged by the collector.",
		}, func() float64 { e, _ := s.Depth(); return float64(e) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "audit_spool_bytes",
			Help: "Bytes of the local audit spool not yet acknowledged by the collector.",
		}, func() float64 { _, b := s.Depth(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "audit_spool_max_bytes",
			Help: "Bound of the local audit spool (audit.spool_max_bytes); at it the role refuses requests it cannot audit, unless audit.unsafe_fail_open.",
		}, func() float64 { return float64(s.MaxBytes) }),
		&lagCollector{lag: s.Lag, desc: prometheus.NewDesc(namespace+"_audit_delivery_lag_seconds",
			"Age of the oldest audit event in the local spool not yet acknowledged by the collector; 0 when all are.",
			nil, nil)},
	)
}

// lagCollector reports the delivery lag, computed at scrape time.
type lagCollector struct {
	desc *prometheus.Desc
	lag  func() (time.Duration, error)
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	d, err := c.lag()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, d.Seconds())
}

func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// WatchRateLimiter publishes bulwark_ratelimit_degraded: 1 while the shared (Redis)
// limiter is unreachable and the gateway decides with its fallback (local limits, or
// failing closed), 0 otherwise. degraded reports the current state. Nil-safe.
func (r *Registry) WatchRateLimiter(degraded func() bool) error {
	if r == nil {
		return nil
	}
	return r.own.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "ratelimit_degraded",
		Help: "1 while the shared rate limiter (Redis) is unreachable and the gateway uses its fallback, 0 otherwise.",
	}, func() float64 {
		if degraded() {
			return 1
		}
		return 0
	}))
}
