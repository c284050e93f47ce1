package config

import (
	"strings"
	"testing"
)

func TestMetricsConfig(t *testing.T) {
	const base = "trust_domain: bank.local\nservices:\n  - name: ledger\n    upstream: unix:ledger.sock\n"
	tests := []struct {
		name, yaml string
		wantErr    string // "" means valid
	}{
		{"off by default", "", ""},
		{"loopback", "metrics:\n  listen: 127.0.0.1:0\n", ""},
		{"per role", "metrics:\n  roles:\n    - role: sidecar/ledger\n      listen: 127.0.0.1:9464\n", ""},
		{"all interfaces", "metrics:\n  listen: :9464\n", "test.yaml:6: metrics.listen: all interfaces is not a loopback address"},
		{"public address", "metrics:\n  listen: 0.0.0.0:9464\n", "metrics.listen: 0.0.0.0 is not a loopback address"},
		{"unsafe opt-in", "metrics:\n  listen: 0.0.0.0:9464\n  unsafe_non_loopback: true\n", ""},
		{"unknown role", "metrics:\n  roles:\n    - role: sidecar/ledgr\n      listen: 127.0.0.1:0\n", `test.yaml:7: metrics.roles[0].role: unknown role "sidecar/ledgr"`},
		{"bad address", "metrics:\n  listen: nowhere\n", `metrics.listen: want host:port, got "nowhere"`},
		{"unknown key", "metrics:\n  listne: 127.0.0.1:0\n", "metrics.listne: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("test.yaml", []byte(base+tt.yaml))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			case err == nil && tt.name == "per role":
				if got := cfg.MetricsListen("sidecar/ledger"); got != "127.0.0.1:9464" {
					t.Errorf("MetricsListen(sidecar/ledger): got %q", got)
				}
				if got := cfg.MetricsListen("gateway"); got != "" {
					t.Errorf("MetricsListen(gateway): got %q, want none", got)
				}
			}
		})
	}
}
