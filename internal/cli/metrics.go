package cli

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/metrics"
)

// roleMetrics are the metrics registries and loopback listeners of the roles one process
// runs: one of each per role, so that `bulwark up` serves a separate endpoint per role,
// exactly what the same roles would serve as separate processes.
type roleMetrics struct {
	cfg     *config.Config
	log     *slog.Logger
	servers []*metrics.Server
	regs    map[string]*metrics.Registry
}

func newRoleMetrics(cfg *config.Config, log *slog.Logger) *roleMetrics {
	return &roleMetrics{cfg: cfg, log: log, regs: map[string]*metrics.Registry{}}
}

// upMetrics binds the metrics listener of every role `up` runs, each watching its role's
// SVID, and the control plane's also the audit log's queue. Call close even on error.
func upMetrics(cfg *config.Config, sources map[string]*workloadapi.X509Source, al *auditlog.Log, log *slog.Logger) (*roleMetrics, error) {
	m := newRoleMetrics(cfg, log)
	for _, role := range cfg.MetricsRoles() {
		src := sources[strings.TrimPrefix(role, "sidecar/")]
		if _, err := m.role(role, src); err != nil {
			return m, err
		}
	}
	if err := m.reg(config.ControlName).WatchAuditLog(al); err != nil {
		return m, fmt.Errorf("metrics for control: %w", err)
	}
	return m, nil
}

// reg is role's registry; nil (records nothing) when the role serves no metrics.
func (m *roleMetrics) reg(role string) *metrics.Registry { return m.regs[role] }

// role returns the registry of role ("gateway", "control", "sidecar/<service>") with its
// listener bound, and src's SVID expiry watched when src is not nil. It returns a nil
// registry, which records nothing, when the config gives the role no metrics listener.
func (m *roleMetrics) role(role string, src x509svid.Source) (*metrics.Registry, error) {
	addr := m.cfg.MetricsListen(role)
	if addr == "" {
		return nil, nil
	}
	ln, err := metrics.Listen(addr, m.cfg.Metrics.UnsafeNonLoopback)
	if err != nil {
		return nil, fmt.Errorf("metrics for %s: %w (each role of one process needs its own port: use port 0 or metrics.roles)", role, err)
	}
	reg := metrics.New(role)
	if src != nil {
		if err := reg.WatchSVID(src); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("metrics for %s: %w", role, err)
		}
	}
	m.regs[role] = reg
	m.servers = append(m.servers, &metrics.Server{Registry: reg, Listener: ln, Log: m.log.With("component", "metrics/"+role)})
	return reg, nil
}

// parts serve every bound listener.
func (m *roleMetrics) parts() []part {
	var ps []part
	for _, s := range m.servers {
		m.log.Info("metrics listening", "role", s.Registry.Role(), "url", s.URL())
		ps = append(ps, part{name: "metrics " + s.Registry.Role(), run: s.Run})
	}
	return ps
}

// urls maps each role to its scrape URL, for endpoints.json; nil without metrics.
func (m *roleMetrics) urls() map[string]string {
	if len(m.servers) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, s := range m.servers {
		out[s.Registry.Role()] = s.URL()
	}
	return out
}

// close releases the listeners (a no-op for those a server already closed).
func (m *roleMetrics) close() error {
	for _, s := range m.servers {
		_ = s.Listener.Close()
	}
	return nil
}

// watchMetrics counts the gateway's JWKS refreshes and revocation feed failures.
func (t *tokenTrust) watchMetrics(reg *metrics.Registry) error {
	t.metrics = reg
	if t.follower == nil || reg == nil {
		return nil
	}
	return reg.WatchRevocationFeed(t.follower.Failures)
}

// watchSpool publishes a standalone role's audit spool: its depth, its bound and the
// delivery lag (the age of the oldest event the collector has not acknowledged).
func watchSpool(reg *metrics.Registry, sp *spool.Spool) error {
	if reg == nil || sp == nil {
		return nil
	}
	return reg.WatchAuditSpool(metrics.AuditSpoolStats{
		Depth: func() (int64, int64) {
			s := sp.Stats()
			return s.Events, s.Bytes
		},
		MaxBytes: sp.Stats().MaxBytes,
		Lag:      sp.Lag,
	})
}
