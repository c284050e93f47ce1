package config

import (
	"strings"
	"testing"
	"time"
)

// withResilience is a one-service config whose service carries the given resilience block
// (indented as the value of "resilience:"); the block starts on line 5.
func withResilience(block string) string {
	return `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
    resilience:
` + block
}

func TestResilienceDefaults(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.Services[0].Resilience, DefaultResilience(); got != want {
		t.Errorf("resilience: got %+v, want %+v", got, want)
	}
	want := Resilience{Timeout: 10 * time.Second, Retries: 2, MaxConcurrent: 256, Breaker: Breaker{FailureRatio: 0.5, MinRequests: 20, OpenFor: 10 * time.Second}}
	if got := DefaultResilience(); got != want {
		t.Errorf("DefaultResilience: got %+v, want %+v", got, want)
	}
}

// TestUpstreamResilience: a service's calls use its block, the control plane's (which has
// no services[] entry) the defaults; ProxyOptions carries every key to proxy.NewResilient.
func TestUpstreamResilience(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(withResilience("      {timeout: 2s, retries: 1, max_concurrent: 8, breaker: {failure_ratio: 0.25, min_requests: 4, open_for: 1m}}\n")))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Resilience{Timeout: 2 * time.Second, Retries: 1, MaxConcurrent: 8, Breaker: Breaker{FailureRatio: 0.25, MinRequests: 4, OpenFor: time.Minute}}
	if got := c.UpstreamResilience("accounts"); got != want {
		t.Errorf("accounts: got %+v, want %+v", got, want)
	}
	if got := c.UpstreamResilience(ControlName); got != DefaultResilience() {
		t.Errorf("%s: got %+v, want the defaults %+v", ControlName, got, DefaultResilience())
	}
	o := want.ProxyOptions("accounts")
	b := o.Breaker
	if o.Name != "accounts" || o.Timeout != want.Timeout || o.Retries != 1 || o.MaxConcurrent != 8 ||
		b.FailureRatio != 0.25 || b.MinRequests != 4 || b.OpenFor != time.Minute {
		t.Errorf("ProxyOptions: got %+v, want every key of %+v", o, want)
	}
}

func TestResilienceExplicitValues(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  Resilience
	}{
		{
			name: "every key",
			block: `      timeout: 2s
      retries: 1
      max_concurrent: 8
      breaker: {failure_ratio: 0.25, min_requests: 4, open_for: 1m}
`,
			want: Resilience{Timeout: 2 * time.Second, Retries: 1, MaxConcurrent: 8, Breaker: Breaker{FailureRatio: 0.25, MinRequests: 4, OpenFor: time.Minute}},
		},
		{
			name:  "retries 0 disables retries and keeps the other defaults",
			block: "      retries: 0\n",
			want:  Resilience{Timeout: 10 * time.Second, Retries: 0, MaxConcurrent: 256, Breaker: Breaker{FailureRatio: 0.5, MinRequests: 20, OpenFor: 10 * time.Second}},
		},
		{
			name:  "part of the breaker",
			block: "      breaker:\n        open_for: 30s\n",
			want:  Resilience{Timeout: 10 * time.Second, Retries: 2, MaxConcurrent: 256, Breaker: Breaker{FailureRatio: 0.5, MinRequests: 20, OpenFor: 30 * time.Second}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bulwark.yaml", []byte(withResilience(tt.block)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.Services[0].Resilience; got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("validate again: %v", err)
			}
		})
	}
}

func TestResilienceRefused(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  []string
	}{
		{
			name:  "zero timeout is not the default",
			block: "      timeout: 0s\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.timeout: must be between 10ms and 1m0s, got 0s`},
		},
		{
			name:  "timeout longer than the gateway's write timeout",
			block: "      timeout: 2m\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.timeout: must be between 10ms and 1m0s, got 2m0s`},
		},
		{
			name:  "negative retries",
			block: "      retries: -1\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.retries: must be between 0 (no retries) and 5, got -1`},
		},
		{
			name:  "too many retries",
			block: "      retries: 6\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.retries: must be between 0 (no retries) and 5, got 6`},
		},
		{
			name:  "retries as a word",
			block: "      retries: twice\n",
			want:  []string{"bulwark.yaml:6: services[0].resilience.retries: cannot unmarshal !!str `twice` into int"},
		},
		{
			name:  "zero max_concurrent is not unlimited",
			block: "      max_concurrent: 0\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.max_concurrent: must be between 1 and 65536, got 0`},
		},
		{
			name:  "failure ratio above 1",
			block: "      breaker:\n        failure_ratio: 1.5\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.failure_ratio: must be greater than 0 and at most 1, got 1.5`},
		},
		{
			name:  "failure ratio 0",
			block: "      breaker:\n        failure_ratio: 0\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.failure_ratio: must be greater than 0 and at most 1, got 0`},
		},
		{
			name:  "failure ratio NaN",
			block: "      breaker:\n        failure_ratio: .nan\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.failure_ratio: must be greater than 0 and at most 1, got NaN`},
		},
		{
			name:  "min_requests 0",
			block: "      breaker:\n        min_requests: 0\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.min_requests: must be between 1 and 100000, got 0`},
		},
		{
			name:  "open_for too short",
			block: "      breaker:\n        open_for: 10ms\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.open_for: must be between 100ms and 10m0s, got 10ms`},
		},
		{
			name:  "open_for without a unit",
			block: "      breaker:\n        open_for: 10\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.open_for: want a duration such as 30s or 1h, got "10"`},
		},
		{
			name:  "unknown key with a suggestion",
			block: "      retires: 1\n",
			want:  []string{`bulwark.yaml:6: services[0].resilience.retires: unknown key (did you mean "retries"?)`},
		},
		{
			name:  "unknown breaker key",
			block: "      breaker:\n        open: 5s\n",
			want:  []string{`bulwark.yaml:7: services[0].resilience.breaker.open: unknown key`},
		},
		{
			name: "every problem at once",
			block: `      timeout: -1s
      max_concurrent: 100000
      breaker:
        min_requests: -3
        open_for: 1h
`,
			want: []string{
				`bulwark.yaml:6: services[0].resilience.timeout: must be between 10ms and 1m0s, got -1s`,
				`bulwark.yaml:7: services[0].resilience.max_concurrent: must be between 1 and 65536, got 100000`,
				`bulwark.yaml:9: services[0].resilience.breaker.min_requests: must be between 1 and 100000, got -3`,
				`bulwark.yaml:10: services[0].resilience.breaker.open_for: must be between 100ms and 10m0s, got 1h0m0s`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bulwark.yaml", []byte(withResilience(tt.block)))
			if err == nil {
				t.Fatalf("got config %+v and nil error, want:\n%s", c.Services[0].Resilience, strings.Join(tt.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
