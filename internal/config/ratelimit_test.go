package config

import (
	"strings"
	"testing"
)

// rlBase is a valid config whose gateway section ends at line 5 so cases append to it;
// line 6 is the first line a case adds.
const rlBase = `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
`

func TestRateLimitDefaults(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(rlBase+`  routes:
    - path: /api/**
      service: accounts
      rate_limit: {rate: 2.5}
    - path: /public/**
      service: accounts
      auth: none
      rate_limit: {rate: 1}
    - path: /free/**
      service: accounts
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := c.Gateway.RateLimit, (RateLimit{Backend: "local", RedisAddr: "127.0.0.1:6379", OnRedisError: "local", MaxInFlight: 1024}); got != want {
		t.Errorf("gateway.rate_limit: got %+v, want %+v", got, want)
	}
	want := []RouteRateLimit{{Rate: 2.5, Burst: 3, Key: "subject"}, {Rate: 1, Burst: 1, Key: "ip"}, {}}
	for i, w := range want {
		if got := c.Gateway.Routes[i].RateLimit; got != w {
			t.Errorf("routes[%d].rate_limit: got %+v, want %+v", i, got, w)
		}
		if got := c.Gateway.Routes[i].RateLimit.Enabled(); got != (i < 2) {
			t.Errorf("routes[%d].rate_limit.Enabled: got %v, want %v", i, got, i < 2)
		}
	}
}

func TestBankPaymentsRateLimit(t *testing.T) {
	c, err := Load(bankConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Gateway.Routes {
		want := RouteRateLimit{}
		switch r.Path {
		case "/api/payments": // the limit: 5 per second per user, burst 10
			want = RouteRateLimit{Rate: 5, Burst: 10, Key: "subject"}
		case "/api/cards": // registering cards is rarer still, and a card-testing target
			want = RouteRateLimit{Rate: 1, Burst: 5, Key: "subject"}
		}
		if r.RateLimit != want {
			t.Errorf("route %s rate_limit: got %+v, want %+v", r.Path, r.RateLimit, want)
		}
	}
}

func TestRateLimitValidation(t *testing.T) {
	route := func(extra string) string {
		return "  routes:\n    - path: /api/**\n      service: accounts\n" + extra
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "unknown backend and error mode",
			yaml: "  rate_limit:\n    backend: memcached\n    on_redis_error: ignore\n",
			want: []string{
				`bulwark.yaml:7: gateway.rate_limit.backend: want "local" or "redis", got "memcached"`,
				`bulwark.yaml:8: gateway.rate_limit.on_redis_error: want "local" or "deny", got "ignore"`,
			},
		},
		{
			name: "bad redis address and in-flight cap",
			yaml: "  rate_limit:\n    backend: redis\n    redis_addr: localhost\n    max_in_flight: -1\n",
			want: []string{
				`bulwark.yaml:8: gateway.rate_limit.redis_addr: want host:port, got "localhost"`,
				`bulwark.yaml:9: gateway.rate_limit.max_in_flight: must be between 1 and 1000000, got -1`,
			},
		},
		{
			name: "redis port zero",
			yaml: "  rate_limit:\n    redis_addr: 10.0.0.5:0\n",
			want: []string{`bulwark.yaml:7: gateway.rate_limit.redis_addr: invalid port "0"`},
		},
		{
			name: "password file without redis",
			yaml: "  rate_limit:\n    redis_password_file: /run/secrets/redis\n",
			want: []string{`bulwark.yaml:7: gateway.rate_limit.redis_password_file: set only with backend: redis`},
		},
		{
			name: "unknown key with a suggestion",
			yaml: "  rate_limit:\n    max_inflight: 10\n",
			want: []string{`bulwark.yaml:7: gateway.rate_limit.max_inflight: unknown key (did you mean "max_in_flight"?)`},
		},
		{
			name: "caller key refused at the gateway",
			yaml: route("      rate_limit: {rate: 5, key: caller}\n"),
			want: []string{`bulwark.yaml:9: gateway.routes[0].rate_limit.key: key "caller" is not available at the gateway: clients have no SPIFFE ID at the edge; use "ip", "subject" or "client"`},
		},
		{
			name: "unknown key kind",
			yaml: route("      rate_limit: {rate: 5, key: header}\n"),
			want: []string{`bulwark.yaml:9: gateway.routes[0].rate_limit.key: want "ip", "subject" or "client", got "header"`},
		},
		{
			name: "subject key on a route without a token",
			yaml: route("      auth: none\n      rate_limit: {rate: 5, key: subject}\n"),
			want: []string{`bulwark.yaml:10: gateway.routes[0].rate_limit.key: key "subject" needs auth: required (a route with auth: none has no token); use "ip"`},
		},
		{
			name: "burst without rate",
			yaml: route("      rate_limit: {burst: 10}\n"),
			want: []string{`bulwark.yaml:9: gateway.routes[0].rate_limit.rate: want requests per second, greater than 0 and at most 1e+06, got 0`},
		},
		{
			name: "negative rate and burst",
			yaml: route("      rate_limit: {rate: -1, burst: -2}\n"),
			want: []string{
				`bulwark.yaml:9: gateway.routes[0].rate_limit.rate: want requests per second, greater than 0 and at most 1e+06, got -1`,
				`bulwark.yaml:9: gateway.routes[0].rate_limit.burst: must be between 1 and 1000000, got -2`,
			},
		},
		{
			name: "rate that is not a number",
			yaml: route("      rate_limit: {rate: .nan}\n"),
			want: []string{`bulwark.yaml:9: gateway.routes[0].rate_limit.rate: want requests per second, greater than 0 and at most 1e+06, got NaN`},
		},
		{
			name: "rate given as text",
			yaml: route("      rate_limit: {rate: fast}\n"),
			want: []string{`bulwark.yaml:9: gateway.routes[0].rate_limit.rate: cannot unmarshal !!str ` + "`fast`" + ` into float64`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bulwark.yaml", []byte(rlBase+tt.yaml))
			if err == nil {
				t.Fatalf("got config %+v and nil error, want:\n%s", c, strings.Join(tt.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
