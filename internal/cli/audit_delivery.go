package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/auditnats"
	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/audit/ship"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// roleAudit is a standalone gateway's or sidecar's audit trail: events are recorded into
// a local spool (written, or fsynced, before the request goes on: audit.durability) and a
// shipper part delivers them to the collector. Start Parts; Close after they stopped.
type roleAudit struct {
	*spool.Spool
	Parts  []part
	closer func()
}

func (r *roleAudit) Close() error {
	if r.closer != nil {
		r.closer()
	}
	return r.Spool.Close()
}

// spoolDir is where role keeps its spool.
func (s state) spoolDir(role string) string { return filepath.Join(s.dir, "audit", "spool", role) }

// openRoleAudit opens role's spool (<state>/audit/spool/<role>) and prepares its shipper
// over cfg.Audit.Transport, authenticated with the role's SVID.
func openRoleAudit(ctx context.Context, cfg *config.Config, st state, role string, src *workloadapi.X509Source, log *slog.Logger) (*roleAudit, error) {
	log = log.With("component", "audit-spool")
	d, err := audit.ParseDurability(cfg.Audit.Durability)
	if err != nil {
		return nil, err
	}
	sp, err := spool.Open(spool.Options{Dir: st.spoolDir(role), MaxBytes: cfg.Audit.SpoolMaxBytes, Durability: d, SyncInterval: cfg.Audit.FsyncInterval,
		FailOpen: cfg.Audit.UnsafeFailOpen, Log: log})
	if err != nil {
		return nil, err
	}
	ra := &roleAudit{Spool: sp}
	var sender ship.Sender
	switch cfg.Audit.Transport {
	case config.AuditTransportNATS:
		nc, js, err := auditnats.Connect(ctx, cfg.Audit.NATS.URL, cfg.Audit.NATS.Stream, "bulwark "+role, natsTLS(cfg, src))
		if err != nil {
			sp.Close()
			return nil, err
		}
		ra.closer = func() { _ = nc.Drain() }
		sender = &auditnats.Publisher{JS: js, Stream: cfg.Audit.NATS.Stream, SVID: src}
	default:
		addr, ok := peersFromConfig(cfg, log)[config.ControlName]
		if !ok {
			sp.Close()
			return nil, errors.New("audit delivery: the control plane has no fixed address (control.listen or control.address)")
		}
		sender = &ship.HTTPSender{
			Client: &http.Client{Transport: proxy.NewMTLSTransport(src, src, proxy.Peer{ID: cfg.WorkloadID(config.ControlName), Addr: addr})},
			URL:    "https://" + config.ControlName + collect.EventsPath,
		}
	}
	shipper := &ship.Shipper{Spool: sp, Sender: sender, Log: log.With("transport", cfg.Audit.Transport)}
	ra.Parts = append(ra.Parts, part{name: "audit shipper", run: shipper.Run})
	return ra, nil
}

// collector is the control plane's audit trail: the tamper-evident log, the collector
// that appends its own events and those delivered by the roles, and the parts that run
// checkpoints and (with transport nats) the stream consumer.
type collector struct {
	*collect.Collector
	log    *auditlog.Log
	Parts  []part
	closer func()
}

func (c *collector) Close() error {
	if c.closer != nil {
		c.closer()
	}
	return c.log.Close()
}

// collectorLogPath is the log the collector appends to: audit.path, else
// <state>/audit/events.jsonl (the same file `up` writes).
func collectorLogPath(cfg *config.Config, st state) string {
	if cfg.Audit.Path != "" {
		return cfg.Audit.Path
	}
	return filepath.Join(st.dir, "audit", "events.jsonl")
}

// reporters maps the SPIFFE IDs that deliver events to the component each may report.
func reporters(cfg *config.Config) map[spiffeid.ID]string {
	m := map[spiffeid.ID]string{cfg.WorkloadID(config.GatewayName): "gateway"}
	for _, s := range cfg.Services {
		m[s.ID] = "sidecar/" + s.Name
	}
	return m
}

func openCollector(ctx context.Context, cfg *config.Config, st state, mk *keys.MasterKey, km auditlog.KeyManager, src *workloadapi.X509Source, log *slog.Logger) (*collector, error) {
	log = log.With("component", "audit")
	d, err := audit.ParseDurability(cfg.Audit.Durability)
	if err != nil {
		return nil, err
	}
	l, err := auditlog.Open(auditlog.Options{
		Path: collectorLogPath(cfg, st), Origin: cfg.TD.Name() + "/audit", Keys: km, MasterKey: mk, Durability: d, SyncInterval: cfg.Audit.FsyncInterval,
		WitnessDir: cfg.Audit.WitnessDir, CheckpointInterval: cfg.Audit.CheckpointInterval, Log: log,
	})
	if err != nil {
		return nil, err
	}
	c, err := collect.New(collect.Options{Log: l, Reporters: reporters(cfg), Logger: log})
	if err != nil {
		l.Close()
		return nil, err
	}
	col := &collector{Collector: c, log: l, Parts: []part{{name: "audit checkpoints", run: l.Run},
		{name: "admin audit drain", run: (&adminDrain{dir: st.adminSpoolDir(), rec: c, log: log}).Run}}} // CLI commands' events (admin_drain.go)
	if cfg.Audit.Transport == config.AuditTransportNATS {
		nc, js, err := auditnats.Connect(ctx, cfg.Audit.NATS.URL, cfg.Audit.NATS.Stream, "bulwark collector", natsTLS(cfg, src))
		if err != nil {
			l.Close()
			return nil, err
		}
		col.closer = func() { _ = nc.Drain() }
		cons := &auditnats.Consumer{JS: js, Stream: cfg.Audit.NATS.Stream, Bundle: src, Collector: c, Log: log}
		col.Parts = append(col.Parts, part{name: "audit stream consumer", run: cons.Run})
	}
	return col, nil
}

// handler serves the collector's HTTP API (POST /v1/audit/events).
func (c *collector) handler(log *slog.Logger) http.Handler {
	return &collect.Handler{Collector: c.Collector, Log: log.With("component", "audit")}
}

// natsTLS is the TLS of a tls:// audit.nats.url: the role's SVID from src, the server
// verified as audit.nats.server_id against src's bundle when set, else against
// audit.nats.ca_file (or the system roots) as audit.nats.server_name (or the URL's host);
// nil for nats://.
func natsTLS(cfg *config.Config, src *workloadapi.X509Source) *tls.Config {
	n := cfg.Audit.NATS
	if !strings.HasPrefix(n.URL, "tls://") {
		return nil
	}
	return auditnats.TLSConfig(src, src, auditnats.Server{ID: n.Server, Roots: n.RootCAs, Name: n.ServerName})
}
