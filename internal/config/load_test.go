package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const bankConfig = "../../examples/bank/bulwark.yaml"

// minimal is the smallest useful config: it leaves every defaulted field empty.
const minimal = `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: accounts
        methods: [GET]
        paths: ["/balances/*"]
gateway:
  routes:
    - path: /api/accounts/**
      service: accounts
`

func TestLoadBankConfig(t *testing.T) {
	c, err := Load(bankConfig)
	if err != nil {
		t.Fatalf("Load(%s): %v", bankConfig, err)
	}
	if got, want := c.File(), bankConfig; got != want {
		t.Errorf("File(): got %q, want %q", got, want)
	}
	if got, want := c.TD.Name(), "bank.local"; got != want {
		t.Errorf("TD: got %q, want %q", got, want)
	}
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	if got, want := names, []string{"accounts", "payments", "ledger", "notifications"}; !slices.Equal(got, want) {
		t.Errorf("services: got %q, want %q", got, want)
	}
	ledger, ok := c.Service("ledger")
	if !ok {
		t.Fatal(`Service("ledger"): not found`)
	}
	if got, want := ledger.ID.String(), "spiffe://bank.local/svc/ledger"; got != want {
		t.Errorf("ledger ID: got %q, want %q", got, want)
	}
	if got, want := c.UpstreamSocket(ledger), filepath.Join(c.StateDir, "run", "ledger.sock"); got != want {
		t.Errorf("ledger socket: got %q, want %q", got, want)
	}
	if _, ok := c.Service("gateway"); ok {
		t.Error(`Service("gateway"): found, want not found`)
	}

	if got, want := c.IdentityProvider.Audience, "bank-api"; got != want {
		t.Errorf("audience: got %q, want %q", got, want)
	}
	if got, want := c.Gateway.Listen, "127.0.0.1:8443"; got != want {
		t.Errorf("gateway.listen: got %q, want %q", got, want)
	}
	if got, want := c.RoutePattern(0).String(), "/api/accounts/**"; got != want {
		t.Errorf("route 0 pattern: got %q, want %q", got, want)
	}
	if got, want := c.Gateway.Routes[0].Roles, []string{"customer", "teller"}; !slices.Equal(got, want) {
		t.Errorf("route 0 roles: got %q, want %q", got, want)
	}
	if !c.Embedded() {
		t.Error("Embedded(): got false, want true (no issuer configured)")
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"state_dir", c.StateDir, "./.bulwark"},
		{"identity.svid_ttl", c.Identity.SVIDTTL, time.Hour},
		{"control.listen", c.Control.Listen, "127.0.0.1:0"},
		{"gateway.listen", c.Gateway.Listen, "127.0.0.1:8443"},
		{"services[0].listen", c.Services[0].Listen, "127.0.0.1:0"},
		{"gateway.routes[0].auth", c.Gateway.Routes[0].Auth, "required"},
		{"identity_provider.audience", c.IdentityProvider.Audience, "bulwark"},
		{"identity_provider.algorithms", strings.Join(c.IdentityProvider.Algorithms, ","), "ES256,RS256"},
		{"identity_provider.roles_claim", c.IdentityProvider.RolesClaim, "roles"},
		{"identity_provider.clock_skew", c.IdentityProvider.ClockSkew, 30 * time.Second},
		{"identity_provider.access_token_ttl", c.IdentityProvider.AccessTokenTTL, 15 * time.Minute},
		{"audit.unsafe_fail_open", c.Audit.UnsafeFailOpen, false},
		{"services[0].unsafe_non_loopback_upstream", c.Services[0].UnsafeNonLoopbackUpstream, false},
		{"TD", c.TD.Name(), "bank.local"},
		{"services[1].ID", c.Services[1].ID.String(), "spiffe://bank.local/svc/ledger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestParseKeepsExplicitValues(t *testing.T) {
	data := minimal + `state_dir: /var/lib/bulwark
identity:
  svid_ttl: 5m
identity_provider:
  audience: bank-api
  algorithms: [ES384]
`
	// The route has auth: none, so defaults must not overwrite it.
	data = strings.Replace(data, "      service: accounts\n", "      service: accounts\n      auth: none\n", 1)
	c, err := Parse("bulwark.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.StateDir, "/var/lib/bulwark"; got != want {
		t.Errorf("state_dir: got %q, want %q", got, want)
	}
	if got, want := c.Identity.SVIDTTL, 5*time.Minute; got != want {
		t.Errorf("svid_ttl: got %v, want %v", got, want)
	}
	if got, want := c.IdentityProvider.Audience, "bank-api"; got != want {
		t.Errorf("audience: got %q, want %q", got, want)
	}
	if got, want := c.IdentityProvider.Algorithms, []string{"ES384"}; !slices.Equal(got, want) {
		t.Errorf("algorithms: got %q, want %q", got, want)
	}
	if got, want := c.Gateway.Routes[0].Auth, "none"; got != want {
		t.Errorf("route auth: got %q, want %q", got, want)
	}
}

func TestUnsafeNonLoopbackUpstreamOptIn(t *testing.T) {
	data := strings.Replace(minimal, "upstream: unix:accounts.sock", "upstream: http://10.0.0.5:8080\n    unsafe_non_loopback_upstream: true", 1)
	c, err := Parse("bulwark.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse with unsafe_non_loopback_upstream: %v", err)
	}
	if got, want := c.UpstreamSocket(&c.Services[0]), ""; got != want {
		t.Errorf("UpstreamSocket of an http upstream: got %q, want %q", got, want)
	}
}

func TestLoadRefusesLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bulwark.yaml")
	// A valid config padded with a comment to one byte over the limit: the size alone
	// must refuse it.
	data := []byte(minimal + "#")
	data = append(data, []byte(strings.Repeat("x", MaxFileSize-len(data)))...)
	data = append(data, '\n')
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatalf("Load of a %d-byte file: got nil error, want one", len(data))
	}
	if got, want := err.Error(), path+": file is larger than 1048576 bytes"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	// Exactly MaxFileSize bytes is allowed.
	if err := os.WriteFile(path, append(data[:MaxFileSize-1:MaxFileSize-1], '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load of a %d-byte file: %v", MaxFileSize, err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
	}
}
