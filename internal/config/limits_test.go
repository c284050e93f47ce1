package config

import (
	"strings"
	"testing"
	"time"
)

// withLimits is a one-service config whose gateway carries the given limits block
// (indented as the value of "limits:", starting on line 6) and routes block (starting
// right after it).
func withLimits(limits, routes string) string {
	return `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  limits:
` + limits + "  routes:\n" + routes
}

const oneRoute = "    - path: /api/**\n      service: accounts\n"

func TestLimitsDefaults(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Limits{
		MaxHeaderBytes: 64 << 10, MaxURLBytes: 8 << 10, MaxBodyBytes: 1 << 20,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		HTTP2MaxConcurrentStreams: 100,
	}
	if got := c.Gateway.Limits; got != want {
		t.Errorf("limits: got %+v, want %+v", got, want)
	}
	if got, want := c.RouteMaxBodyBytes(0), int64(1<<20); got != want {
		t.Errorf("route body limit: got %d, want the gateway's %d", got, want)
	}
}

func TestLimitsExplicitValues(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(withLimits(`    max_header_bytes: 16384
    max_url_bytes: 2048
    max_body_bytes: 4096
    read_header_timeout: 2s
    read_timeout: 5s
    write_timeout: 20s
    idle_timeout: 30s
    http2_max_concurrent_streams: 32
`, oneRoute+`    - path: /upload
      service: accounts
      max_body_bytes: 10485760
    - path: /docs/**
      service: accounts
      auth: none
      case_insensitive: true
`)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Limits{
		MaxHeaderBytes: 16384, MaxURLBytes: 2048, MaxBodyBytes: 4096,
		ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second,
		WriteTimeout: 20 * time.Second, IdleTimeout: 30 * time.Second,
		HTTP2MaxConcurrentStreams: 32,
	}
	if got := c.Gateway.Limits; got != want {
		t.Errorf("limits: got %+v, want %+v", got, want)
	}
	for i, want := range []int64{4096, 10 << 20, 4096} {
		if got := c.RouteMaxBodyBytes(i); got != want {
			t.Errorf("routes[%d] body limit: got %d, want %d", i, got, want)
		}
	}
	if !c.Gateway.Routes[2].CaseInsensitive || c.Gateway.Routes[0].CaseInsensitive {
		t.Errorf("case_insensitive: got %v, %v; want false, true", c.Gateway.Routes[0].CaseInsensitive, c.Gateway.Routes[2].CaseInsensitive)
	}
}

func TestLimitsRefused(t *testing.T) {
	tests := []struct {
		name   string
		limits string
		routes string
		want   []string
	}{
		{
			name:   "zero max_body_bytes is not unlimited",
			limits: "    max_body_bytes: 0\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.max_body_bytes: must be between 1 and 1073741824 bytes, got 0`},
		},
		{
			name:   "header limit too small",
			limits: "    max_header_bytes: 1024\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.max_header_bytes: must be between 4096 and 1048576 bytes, got 1024`},
		},
		{
			name:   "URL limit above the header limit",
			limits: "    max_header_bytes: 8192\n    max_url_bytes: 9000\n",
			want:   []string{`bulwark.yaml:8: gateway.limits.max_url_bytes: must be between 256 and max_header_bytes (8192) bytes, got 9000`},
		},
		{
			name:   "read timeout shorter than the header timeout",
			limits: "    read_header_timeout: 20s\n    read_timeout: 5s\n",
			want:   []string{`bulwark.yaml:8: gateway.limits.read_timeout: must be at least read_header_timeout (20s) and at most 1h0m0s, got 5s`},
		},
		{
			name:   "zero read_header_timeout is not no timeout",
			limits: "    read_header_timeout: 0s\n",
			want: []string{
				`bulwark.yaml:7: gateway.limits.read_header_timeout: must be between 100ms and 5m0s, got 0s`,
			},
		},
		{
			name:   "write timeout shorter than an upstream timeout",
			limits: "    write_timeout: 5s\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.write_timeout: 5s is shorter than services[0].resilience.timeout (10s): the client would be cut off before the gateway's 504`},
		},
		{
			name:   "idle timeout without a unit",
			limits: "    idle_timeout: 30\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.idle_timeout: want a duration such as 30s or 1h, got "30"`},
		},
		{
			name:   "too many HTTP/2 streams",
			limits: "    http2_max_concurrent_streams: 100000\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.http2_max_concurrent_streams: must be between 1 and 1000, got 100000`},
		},
		{
			name:   "unknown key with a suggestion",
			limits: "    max_body_byte: 10\n",
			want:   []string{`bulwark.yaml:7: gateway.limits.max_body_byte: unknown key (did you mean "max_body_bytes"?)`},
		},
		{
			name:   "size as a string",
			limits: "    max_body_bytes: 1MiB\n",
			want:   []string{"bulwark.yaml:7: gateway.limits.max_body_bytes: cannot unmarshal !!str `1MiB` into int64"},
		},
		{
			name:   "route body limit of zero",
			limits: "    idle_timeout: 30s\n",
			routes: oneRoute + "      max_body_bytes: 0\n",
			want:   []string{`bulwark.yaml:11: gateway.routes[0].max_body_bytes: must be between 1 and 1073741824 bytes, got 0`},
		},
		{
			name:   "case-insensitive route with an upper-case pattern",
			limits: "    idle_timeout: 30s\n",
			routes: "    - path: /API/**\n      service: accounts\n      case_insensitive: true\n",
			want:   []string{`bulwark.yaml:9: gateway.routes[0].path: a case_insensitive route matches lower-cased paths: write its pattern in lower case ("/api/**")`},
		},
		{
			name:   "case_insensitive as a string",
			limits: "    idle_timeout: 30s\n",
			routes: oneRoute + "      case_insensitive: sometimes\n",
			want:   []string{"bulwark.yaml:11: gateway.routes[0].case_insensitive: cannot unmarshal !!str `sometimes` into bool"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := tt.routes
			if routes == "" {
				routes = oneRoute
			}
			c, err := Parse("bulwark.yaml", []byte(withLimits(tt.limits, routes)))
			if err == nil {
				t.Fatalf("got limits %+v and nil error, want:\n%s", c.Gateway.Limits, strings.Join(tt.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
