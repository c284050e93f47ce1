package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// wired is a registry with every Bulwark metric fed by real components: a real audit
// file, tamper-evident log and spool, a test CA's SVID.
func wired(t *testing.T) *Registry {
	t.Helper()
	dir := t.TempDir()
	reg := New("gateway")
	reg.HTTP().Observe("/api/accounts/**", 200, 3*time.Millisecond)
	reg.HTTP().Observe("", 404, time.Millisecond)

	fl, err := audit.OpenFile(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rec := reg.Recorder(fl, func(rule string) string { return map[string]string{"gateway.routes[0]": "/api/accounts/**"}[rule] })
	ctx := context.Background()
	for _, e := range []audit.Event{
		{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Deny},
		{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow},
		{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow, WouldDeny: true},
		{Kind: audit.KindAuthn, Component: "gateway", Outcome: audit.Deny},
		{Kind: "ratelimit", Component: "gateway", Outcome: audit.Deny, Rule: "gateway.routes[0]"},
	} {
		if err := rec.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	_ = fl.Close()
	if err := rec.Record(ctx, audit.Event{Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}); err == nil {
		t.Fatal("Record on a closed audit file: got nil error")
	}

	reg.WatchBreakers(func() map[string]string { return map[string]string{"accounts": "open", "ledger": "closed"} })
	reg.BreakerChanged("accounts", "closed", "open")
	reg.JWKSRefreshed("https://issuer.example", "ok")
	ca := testpki.New(t, "bank.local")
	if err := reg.WatchSVID(ca.SVID(t, "gateway")); err != nil {
		t.Fatal(err)
	}
	if err := reg.WatchRevocationFeed(func() int64 { return 3 }); err != nil {
		t.Fatal(err)
	}
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	km, err := envelope.Open(ctx, filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	al, err := auditlog.Open(auditlog.Options{Path: filepath.Join(dir, "audit", "log.jsonl"), Origin: "bank.local/audit", Keys: km, MasterKey: mk, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	if err := reg.WatchAuditLog(al); err != nil {
		t.Fatal(err)
	}
	// One event spooled 90 s before the spool's clock, not yet delivered.
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "spool"), Log: slog.New(slog.DiscardHandler),
		MaxBytes: 4 << 20, Now: func() time.Time { return spoolNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sp.Close() })
	if err := sp.Record(ctx, audit.Event{Time: spoolNow.Add(-90 * time.Second), Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}); err != nil {
		t.Fatal(err)
	}
	if err := reg.WatchAuditSpool(AuditSpoolStats{
		Depth:    func() (int64, int64) { s := sp.Stats(); return s.Events, s.Bytes },
		MaxBytes: sp.Stats().MaxBytes,
		Lag:      sp.Lag,
	}); err != nil {
		t.Fatal(err)
	}
	return reg
}

var spoolNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDecisionCounters(t *testing.T) {
	g := wired(t).Gatherer()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bulwark_authz_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "deny"}, 1},
		{"bulwark_authz_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "allow"}, 1},
		{"bulwark_authz_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "would_deny"}, 1},
		{"bulwark_authn_decisions_total", map[string]string{"role": "gateway", "component": "gateway", "outcome": "deny"}, 1},
		{"bulwark_rate_limited_requests_total", map[string]string{"role": "gateway", "route": "/api/accounts/**"}, 1},
		{"bulwark_audit_record_failures_total", map[string]string{"role": "gateway", "component": "gateway"}, 1},
		{"bulwark_audit_record_duration_seconds", map[string]string{"role": "gateway"}, 6},
		{"bulwark_circuit_breaker_state", map[string]string{"role": "gateway", "upstream": "accounts", "state": "open"}, 1},
		{"bulwark_circuit_breaker_state", map[string]string{"role": "gateway", "upstream": "accounts", "state": "closed"}, 0},
		{"bulwark_circuit_breaker_transitions_total", map[string]string{"role": "gateway", "upstream": "accounts", "to": "open"}, 1},
		{"bulwark_revocation_feed_failures_total", map[string]string{"role": "gateway"}, 3},
		{"bulwark_audit_spool_events", map[string]string{"role": "gateway"}, 1},
		{"bulwark_audit_spool_max_bytes", map[string]string{"role": "gateway"}, 4 << 20},
		{"bulwark_audit_delivery_lag_seconds", map[string]string{"role": "gateway"}, 90},
		{"bulwark_http_requests_total", map[string]string{"role": "gateway", "route": RouteUnmatched, "code": "404"}, 1},
	} {
		got, ok := Value(g, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v: got %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	left, ok := Value(g, "bulwark_svid_expiry_seconds", map[string]string{"role": "gateway", "spiffe_id": "spiffe://bank.local/svc/gateway"})
	if !ok || left <= 0 || left > 24*3600 {
		t.Errorf("bulwark_svid_expiry_seconds: got %v (present %v), want within (0, 1 day]", left, ok)
	}
}

// TestPromtoolCheckMetrics lints a fully fed exposition with promtool. It skips without
// promtool, except in CI.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := needPromtool(t)
	base := startServer(t, wired(t))
	resp, err := http.Get(base + PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestDashboardsAndRules parses the shipped Grafana dashboards and alert rules, checks
// every expression names only metrics Bulwark exports, and runs promtool check rules and
// test rules on the rule files.
func TestDashboardsAndRules(t *testing.T) {
	known := map[string]bool{}
	mfs, err := wired(t).Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		known[mf.GetName()] = true
	}
	metricRE := regexp.MustCompile(`\bbulwark_[a-z_]+`)
	check := func(where, expr string) {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty expression", where)
		}
		ms := metricRE.FindAllString(expr, -1)
		if len(ms) == 0 {
			t.Errorf("%s: %q uses no bulwark_ metric", where, expr)
		}
		for _, m := range ms {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")
			if !known[m] && !known[base] {
				t.Errorf("%s: %q names %s, which Bulwark does not export", where, expr, m)
			}
		}
	}
	root := filepath.Join("..", "..", "deploy")
	boards, _ := filepath.Glob(filepath.Join(root, "grafana", "*.json"))
	if len(boards) == 0 {
		t.Fatal("no dashboards in deploy/grafana")
	}
	for _, f := range boards {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Title  string `json:"title"`
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: want a title, a uid and panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				check(f+": "+p.Title, tg.Expr)
			}
		}
	}
	rules, _ := filepath.Glob(filepath.Join(root, "prometheus", "*-alerts.yml"))
	if len(rules) == 0 {
		t.Fatal("no alert rules in deploy/prometheus")
	}
	exprRE := regexp.MustCompile(`(?m)^\s+expr:\s*(\|)?(.*)$`)
	for _, f := range rules {
		b, _ := os.ReadFile(f)
		if n := len(exprRE.FindAll(b, -1)); n == 0 {
			t.Errorf("%s: no rules", f)
		}
		for _, m := range metricRE.FindAllString(string(b), -1) {
			check(f, m)
		}
	}
	promtool := needPromtool(t)
	var tests []string
	for _, f := range rules {
		tests = append(tests, strings.TrimSuffix(f, ".yml")+".test.yml")
	}
	sort.Strings(tests)
	for _, args := range [][]string{append([]string{"check", "rules"}, rules...), append([]string{"test", "rules"}, tests...)} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
	}
}

// needPromtool returns promtool's path; without it the test skips loudly, or fails in CI.
func needPromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if errors.Is(err, exec.ErrNotFound) || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found: CI installs it (Debian package prometheus, see .ci/run)")
		}
		t.Skip("SKIPPED: promtool not found (apt-get install prometheus); CI runs this")
	}
	return p
}

// TestDeliveryLagErrorIsNotZero: when the spool cannot tell the age of its oldest event
// (here a record that is not an event), the lag is missing from the scrape, not reported
// as 0 ("all delivered"); the rest of the page is still served.
func TestDeliveryLagErrorIsNotZero(t *testing.T) {
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Append([]byte(`{"not":"an event"}`)); err != nil {
		t.Fatal(err)
	}
	reg := New("sidecar/ledger")
	if err := reg.WatchAuditSpool(AuditSpoolStats{Depth: func() (int64, int64) { s := sp.Stats(); return s.Events, s.Bytes }, Lag: sp.Lag}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gatherer().Gather()
	if err == nil {
		t.Error("Gather: no error for a lag that could not be read")
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	if names["bulwark_audit_delivery_lag_seconds"] || !names["bulwark_audit_spool_events"] {
		t.Errorf("families served: lag %v (want absent), spool events %v (want present)",
			names["bulwark_audit_delivery_lag_seconds"], names["bulwark_audit_spool_events"])
	}
}
