package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// routeBase is a valid config ending in one route; line 9 is the first line a case adds
// to that route.
const routeBase = `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  routes:
    - path: /api/**
      service: accounts
`

func TestRouteAccessParsed(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(routeBase+`      methods: [GET, POST]
      cors:
        origins: ["https://app.example.com", "https://*.example.org:8443"]
        credentials: true
        max_age: 10m
      ips:
        allow: [10.0.0.0/8, "2001:db8::/32", 192.0.2.7]
        deny: [10.0.0.13]
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r := c.Gateway.Routes[0]
	if got, want := r.Methods, []string{"GET", "POST"}; !slices.Equal(got, want) {
		t.Errorf("methods: got %q, want %q", got, want)
	}
	if got, want := r.CORS.Methods, []string{"GET", "POST"}; !slices.Equal(got, want) {
		t.Errorf("cors.methods default: got %q, want the route's %q", got, want)
	}
	if got, want := r.CORS.Headers, DefaultCORSHeaders; !slices.Equal(got, want) {
		t.Errorf("cors.headers default: got %q, want %q", got, want)
	}
	if got, want := r.CORS.MaxAge, 10*time.Minute; got != want {
		t.Errorf("cors.max_age: got %v, want %v", got, want)
	}
	wantAllow := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.7/32")}
	if got := r.IPs.AllowPrefixes; !slices.Equal(got, wantAllow) {
		t.Errorf("ips.allow: got %v, want %v", got, wantAllow)
	}
	if got, want := r.IPs.DenyPrefixes, []netip.Prefix{netip.MustParsePrefix("10.0.0.13/32")}; !slices.Equal(got, want) {
		t.Errorf("ips.deny: got %v, want %v", got, want)
	}
}

func TestRouteAccessErrors(t *testing.T) {
	tests := []struct {
		name string
		add  string // lines appended to routeBase's route
		want []string
	}{
		{"unknown method", "      methods: [GET, FETCH]\n",
			[]string{`bulwark.yaml:9: gateway.routes[0].methods[1]: unknown method "FETCH"; want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`}},
		{"lower-case method", "      methods: [get]\n",
			[]string{`bulwark.yaml:9: gateway.routes[0].methods[0]: method "get" must be upper case: GET`}},
		{"trace", "      methods: [TRACE]\n",
			[]string{`bulwark.yaml:9: gateway.routes[0].methods[0]: TRACE is never forwarded by the gateway or a sidecar`}},
		{"duplicate method", "      methods: [GET, GET]\n",
			[]string{`bulwark.yaml:9: gateway.routes[0].methods[1]: duplicate method "GET"`}},
		{"empty methods", "      methods: []\n",
			[]string{`bulwark.yaml:9: gateway.routes[0].methods: at least one method is required; leave the key out to accept any`}},
		{"bad CIDR", "      ips:\n        allow: [10.0.0.0/33]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].ips.allow[0]: want a CIDR prefix such as 10.0.0.0/8 or an IP address, got "10.0.0.0/33"`}},
		{"host bits set", "      ips:\n        deny: [10.1.2.3/8]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].ips.deny[0]: "10.1.2.3/8" has host bits set; did you mean 10.0.0.0/8?`}},
		{"not an address", "      ips:\n        deny: [localhost]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].ips.deny[0]: want a CIDR prefix such as 10.0.0.0/8 or an IP address, got "localhost"`}},
		{"4in6", "      ips:\n        deny: [\"::ffff:10.0.0.0/104\"]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].ips.deny[0]: write IPv4 prefixes in IPv4 form, got "::ffff:10.0.0.0/104"`}},
		{"wildcard origin with credentials", "      methods: [GET]\n      cors:\n        origins: [\"*\"]\n        credentials: true\n",
			[]string{`bulwark.yaml:11: gateway.routes[0].cors.origins[0]: the origin "*" with credentials: true would let every web site make requests with the user's cookies; list the origins`}},
		{"wildcard header with credentials", "      methods: [GET]\n      cors:\n        origins: [\"https://a.example\"]\n        headers: [\"*\"]\n        credentials: true\n",
			[]string{`bulwark.yaml:12: gateway.routes[0].cors.headers[0]: "*" is not allowed with credentials: true (browsers read it as a header named "*"); list the headers`}},
		{"null origin", "      methods: [GET]\n      cors:\n        origins: [\"null\"]\n",
			[]string{`bulwark.yaml:11: gateway.routes[0].cors.origins[0]: the origin "null" is shared by sandboxed pages and local files: it cannot be trusted`}},
		{"origin with path", "      methods: [GET]\n      cors:\n        origins: [\"https://a.example/app\"]\n",
			[]string{`bulwark.yaml:11: gateway.routes[0].cors.origins[0]: want an origin such as https://app.example.com or https://*.example.com, got "https://a.example/app"`}},
		{"upper-case origin", "      methods: [GET]\n      cors:\n        origins: [\"https://App.example\"]\n",
			[]string{`bulwark.yaml:11: gateway.routes[0].cors.origins[0]: origins are lower case, as browsers send them: "https://app.example"`}},
		{"no origins", "      methods: [GET]\n      cors:\n        max_age: 1m\n",
			[]string{`bulwark.yaml:11: gateway.routes[0].cors.origins: at least one origin is required`}},
		{"cors methods without route methods", "      cors:\n        origins: [\"https://a.example\"]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].cors.methods: required when the route has no methods list`}},
		{"cors method the route refuses", "      methods: [GET]\n      cors:\n        origins: [\"https://a.example\"]\n        methods: [GET, DELETE]\n",
			[]string{`bulwark.yaml:12: gateway.routes[0].cors.methods[1]: DELETE is not in the route's methods [GET]: browsers would be told it is allowed`}},
		{"max age too long", "      methods: [GET]\n      cors:\n        origins: [\"https://a.example\"]\n        max_age: 48h\n",
			[]string{`bulwark.yaml:12: gateway.routes[0].cors.max_age: want whole seconds between 0s and 24h, got 48h0m0s`}},
		{"unknown cors key", "      cors:\n        origin: [\"https://a.example\"]\n",
			[]string{`bulwark.yaml:10: gateway.routes[0].cors.origin: unknown key (did you mean "origins"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(routeBase+tt.add))
			if err == nil {
				t.Fatal("Parse: got nil error")
			}
			if got, want := strings.Split(err.Error(), "\n"), tt.want; !slices.Equal(got, want) {
				t.Errorf("errors:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}
