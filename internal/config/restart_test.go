package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRestartRequired(t *testing.T) {
	base := parseForRestart(t, minimal)
	tests := []struct {
		name     string
		from, to string
		wantKeys []string // each must be named; none means the change is hot
	}{
		{name: "nothing changed"},
		{name: "trust domain", from: "trust_domain: bank.local", to: "trust_domain: other.local", wantKeys: []string{"trust_domain"}},
		{name: "gateway listen", from: "gateway:\n", to: "gateway:\n  listen: 127.0.0.1:9443\n", wantKeys: []string{"gateway.listen"}},
		{name: "state dir", from: "trust_domain: bank.local", to: "trust_domain: bank.local\nstate_dir: /elsewhere", wantKeys: []string{"state_dir"}},
		{name: "a service added", from: "services:\n", to: "services:\n  - name: extra\n    upstream: unix:extra.sock\n", wantKeys: []string{"services"}},
		{name: "a route changed is hot", from: "      service: accounts\n", to: "      service: accounts\n      roles: [teller]\n"},
		{name: "an allow rule changed is hot", from: "methods: [GET]", to: "methods: [GET, POST]"},
		{name: "fail open is hot", from: "trust_domain: bank.local", to: "trust_domain: bank.local\naudit: {unsafe_fail_open: true}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(minimal, tt.from) {
				t.Fatalf("the minimal config has no %q", tt.from)
			}
			next := parseForRestart(t, strings.Replace(minimal, tt.from, tt.to, 1))
			err := base.RestartRequired(next)
			if len(tt.wantKeys) == 0 {
				if err != nil {
					t.Fatalf("got %v, want a hot change", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want a refusal naming %v", tt.wantKeys)
			}
			for _, k := range tt.wantKeys {
				if !strings.Contains(err.Error(), "next.yaml:") || !strings.Contains(err.Error(), ": "+k+": changed") {
					t.Errorf("error %q does not name %s with its file and line", err, k)
				}
			}
		})
	}
}

func parseForRestart(t *testing.T, yaml string) *Config {
	t.Helper()
	c, err := Parse("next.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, yaml)
	}
	return c
}

func TestPolicyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "bulwark.yaml")
	c, err := Parse(file, []byte(minimal+"policies: policies\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.PolicyDir(), filepath.Join(dir, "policies"); got != want {
		t.Errorf("PolicyDir: got %q, want %q (relative to the config file)", got, want)
	}
	_, err = Parse(file, []byte(minimal+"policies: polcies\n"))
	if err == nil || !strings.Contains(err.Error(), file+":15: policies: policy directory") {
		t.Errorf("missing directory: got %v, want a located error on policies", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err = Parse(file, []byte(minimal+"policies: file\n")); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("a file: got %v, want 'is not a directory'", err)
	}
	if c, _ := Parse(file, []byte(minimal)); c.PolicyDir() != "" {
		t.Errorf("no policies: got %q, want none", c.PolicyDir())
	}
}
