package authz

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/config"
)

// testConfig is a small mesh: ledger (services[0]) called by accounts and payments, and
// two gateway routes, one of them public.
const testConfig = `
trust_domain: test.local
services:
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: accounts
        methods: [GET]
        paths: ["/balances/*"]
      - caller: payments
        methods: ["*"]
        paths: ["/entries", "/admin/**"]
  - name: accounts
    upstream: unix:accounts.sock
  - name: payments
    upstream: unix:payments.sock
gateway:
  routes:
    - path: /api/reports/**
      service: accounts
      roles: [teller, auditor]
      scopes: [reports.read, reports.list]
    - path: /health
      service: accounts
      auth: none
    - path: /api/**
      service: accounts
`

func loadTestConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse("bulwark.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newTestEngine builds an engine over testConfig and a policy directory holding files.
func newTestEngine(t testing.TB, files map[string]string) *Engine {
	t.Helper()
	e, err := NewEngine(loadTestConfig(t), writeDir(t, files))
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

func writeDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func workload(name string) spiffeid.ID {
	return spiffeid.RequireFromSegments(spiffeid.RequireTrustDomainFromString("test.local"), "svc", name)
}

// noon is a fixed context: Monday 12:00 UTC from loopback.
var noon = Context{SourceIP: netip.MustParseAddr("127.0.0.1"), Time: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)}

func user(name string, roles, scopes []string, method, path string) UserRequest {
	return UserRequest{User: User{Name: name, Roles: roles, Scopes: scopes}, Method: method, Path: path, Context: noon}
}

func mesh(caller, service, method, path string) WorkloadRequest {
	return WorkloadRequest{Caller: workload(caller), Service: service, Method: method, Path: path, Context: noon}
}

// expectVerdict checks the outcome and the determining policy ids.
func expectVerdict(t *testing.T, v Verdict, outcome string, ids ...string) {
	t.Helper()
	if v.Outcome() != outcome {
		t.Errorf("outcome %s, want %s (%+v)", v.Outcome(), outcome, v)
	}
	for _, id := range ids {
		if !v.HasPolicy(id) {
			t.Errorf("policies %v, dry run %v: want %q among them", v.Policies, v.DryRun, id)
		}
	}
	if len(ids) == 0 && outcome == "deny" && len(v.Policies) != 0 {
		t.Errorf("default deny named policies %v", v.Policies)
	}
}
