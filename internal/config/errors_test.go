package config

import (
	"errors"
	"strings"
	"testing"
)

// badConfigs are configs that must be refused, each with every line of the error it must
// produce. Lines are 1-based within the YAML; the file name is "bulwark.yaml". FuzzParse
// uses the same YAML as seeds.
var badConfigs = []struct {
	name string
	yaml string
	want []string
}{
	{
		name: "unknown top-level key",
		yaml: `trust_domain: bank.local
colour: red
`,
		want: []string{`bulwark.yaml:2: colour: unknown key`},
	},
	{
		name: "unknown top-level key with a suggestion",
		yaml: `trust_domain: bank.local
servics: []
`,
		want: []string{`bulwark.yaml:2: servics: unknown key (did you mean "services"?)`},
	},
	{
		name: "unknown nested key",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caler: accounts
        methods: [GET]
        paths: ["/balances/*"]
`,
		want: []string{`bulwark.yaml:8: services[1].allow[0].caler: unknown key (did you mean "caller"?)`},
	},
	{
		name: "duration that does not parse",
		yaml: `trust_domain: bank.local
identity:
  svid_ttl: abc
`,
		want: []string{`bulwark.yaml:3: identity.svid_ttl: want a duration such as 30s or 1h, got "abc"`},
	},
	{
		name: "duration without a unit",
		yaml: `trust_domain: bank.local
identity:
  svid_ttl: 3600
`,
		want: []string{`bulwark.yaml:3: identity.svid_ttl: want a duration such as 30s or 1h, got "3600"`},
	},
	{
		name: "string where a list is wanted",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
    allow:
      - caller: gateway
        methods: GET
        paths: ["/api"]
`,
		want: []string{`bulwark.yaml:7: services[0].allow[0].methods: want a list, got str "GET"`},
	},
	{
		name: "number where a string is wanted",
		yaml: `trust_domain: bank.local
services:
  - name: 123
    upstream: unix:x.sock
`,
		want: []string{`bulwark.yaml:3: services[0].name: want a string, got int "123" (quote it if you mean a string)`},
	},
	{
		name: "boolean where a string is wanted",
		yaml: `trust_domain: true
`,
		want: []string{`bulwark.yaml:1: trust_domain: want a string, got bool "true" (quote it if you mean a string)`},
	},
	{
		name: "mapping where a string is wanted",
		yaml: `trust_domain:
  name: bank.local
`,
		want: []string{`bulwark.yaml:2: trust_domain: want a single value, got a mapping`},
	},
	{
		name: "list where a mapping is wanted",
		yaml: `trust_domain: bank.local
gateway: [a, b]
`,
		want: []string{`bulwark.yaml:2: gateway: want a mapping, got a list`},
	},
	{
		name: "word where a boolean is wanted",
		yaml: `trust_domain: bank.local
audit:
  unsafe_fail_open: maybe
`,
		want: []string{"bulwark.yaml:3: audit.unsafe_fail_open: cannot unmarshal !!str `maybe` into bool"},
	},
	{
		name: "duplicate key",
		yaml: `trust_domain: bank.local
trust_domain: evil.local
`,
		want: []string{`bulwark.yaml:2: trust_domain: duplicate key`},
	},
	{
		name: "duplicate nested key",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
    upstream: http://10.0.0.1:80
`,
		want: []string{`bulwark.yaml:5: services[0].upstream: duplicate key`},
	},
	{
		name: "route to an unknown service",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  routes:
    - path: /api/accounts/**
      service: acounts
`,
		want: []string{`bulwark.yaml:8: gateway.routes[0].service: unknown service "acounts" (did you mean "accounts"?)`},
	},
	{
		name: "allow rule for an unknown caller",
		yaml: `trust_domain: bank.local
services:
  - name: payments
    upstream: unix:payments.sock
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: paymants
        methods: [POST]
        paths: [/entries]
`,
		want: []string{`bulwark.yaml:8: services[1].allow[0].caller: unknown service "paymants" (did you mean "payments"?)`},
	},
	{
		name: "allow rule for an unknown caller without a close name",
		yaml: `trust_domain: bank.local
services:
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: notifications
        methods: [POST]
        paths: [/entries]
`,
		want: []string{`bulwark.yaml:6: services[0].allow[0].caller: unknown service "notifications"`},
	},
	{
		name: "reserved service name gateway",
		yaml: `trust_domain: bank.local
services:
  - name: gateway
    upstream: unix:gw.sock
`,
		want: []string{`bulwark.yaml:3: services[0].name: "gateway" is reserved for Bulwark's own workload`},
	},
	{
		name: "reserved service name control",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: control
    upstream: unix:control.sock
`,
		want: []string{`bulwark.yaml:5: services[1].name: "control" is reserved for Bulwark's own workload`},
	},
	{
		name: "invalid service name",
		yaml: `trust_domain: bank.local
services:
  - name: Accounts
    upstream: unix:accounts.sock
`,
		want: []string{`bulwark.yaml:3: services[0].name: invalid service name "Accounts": want [a-z][a-z0-9-]*`},
	},
	{
		name: "duplicate service",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:a.sock
  - name: accounts
    upstream: unix:b.sock
`,
		want: []string{`bulwark.yaml:5: services[1].name: duplicate service "accounts"`},
	},
	{
		name: "missing trust domain",
		yaml: `state_dir: /tmp/x
`,
		want: []string{`bulwark.yaml: trust_domain: required`},
	},
	{
		name: "bad trust domain",
		yaml: `trust_domain: Bank.Local
`,
		want: []string{`bulwark.yaml:1: trust_domain: invalid trust domain "Bank.Local": trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
	},
	{
		name: "trust domain written as a SPIFFE ID",
		yaml: `trust_domain: spiffe://bank.local/svc/accounts
`,
		want: []string{`bulwark.yaml:1: trust_domain: invalid trust domain "spiffe://bank.local/svc/accounts": want a bare name such as bank.local`},
	},
	{
		name: "allow path without a leading slash",
		yaml: `trust_domain: bank.local
services:
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: gateway
        methods: [GET]
        paths: ["/ok", "balances/*"]
`,
		want: []string{`bulwark.yaml:8: services[0].allow[0].paths[1]: path pattern "balances/*" must start with /`},
	},
	{
		name: "route path with ** in the middle",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  routes:
    - path: /api/**/balance
      service: accounts
`,
		want: []string{`bulwark.yaml:7: gateway.routes[0].path: path pattern "/api/**/balance": ** is only allowed as the last segment`},
	},
	{
		name: "route under /oidc",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  routes:
    - path: /oidc/token
      service: accounts
`,
		want: []string{`bulwark.yaml:7: gateway.routes[0].path: /oidc is reserved for the embedded identity provider`},
	},
	{
		name: "lower-case method",
		yaml: `trust_domain: bank.local
services:
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: gateway
        methods: [GET, post]
        paths: [/entries]
`,
		want: []string{`bulwark.yaml:7: services[0].allow[0].methods[1]: method "post" must be upper case: POST`},
	},
	{
		name: "allow rule method no hop forwards",
		yaml: `trust_domain: bank.local
services:
  - name: ledger
    upstream: unix:ledger.sock
    allow:
      - caller: gateway
        methods: [PROPFIND, TRACE]
        paths: [/entries]
`,
		want: []string{
			`bulwark.yaml:7: services[0].allow[0].methods[0]: unknown method "PROPFIND"; want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or "*" for any`,
			`bulwark.yaml:7: services[0].allow[0].methods[1]: TRACE is never forwarded by the gateway or a sidecar`,
		},
	},
	{
		name: "non-loopback upstream without opt-in",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: http://10.0.0.5:8080
`,
		want: []string{`bulwark.yaml:4: services[0].upstream: "10.0.0.5" is not a loopback address: the app would be reachable in plaintext; set unsafe_non_loopback_upstream to accept that`},
	},
	{
		name: "upstream hiding a remote host behind userinfo",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: http://127.0.0.1:80@evil.example
`,
		want: []string{`bulwark.yaml:4: services[0].upstream: "evil.example" is not a loopback address: the app would be reachable in plaintext; set unsafe_non_loopback_upstream to accept that`},
	},
	{
		name: "unix upstream without a path",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: "unix:"
`,
		want: []string{`bulwark.yaml:4: services[0].upstream: unix: needs a socket path`},
	},
	{
		name: "unix upstream with only slashes",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix://
`,
		want: []string{`bulwark.yaml:4: services[0].upstream: unix: needs a socket path`},
	},
	{
		name: "https upstream",
		yaml: `trust_domain: bank.local
services:
  - name: accounts
    upstream: https://127.0.0.1:8080
`,
		want: []string{`bulwark.yaml:4: services[0].upstream: want unix:PATH or http://HOST:PORT, got "https://127.0.0.1:8080"`},
	},
	{
		name: "cert_file without key_file",
		yaml: `trust_domain: bank.local
gateway:
  tls:
    cert_file: edge.pem
`,
		want: []string{`bulwark.yaml:4: gateway.tls: set both cert_file and key_file, or neither`},
	},
	{
		name: "issuer not https",
		yaml: `trust_domain: bank.local
identity_provider:
  issuer: http://idp.example
`,
		want: []string{`bulwark.yaml:3: identity_provider.issuer: want an https URL without query or fragment, got "http://idp.example"`},
	},
	{
		name: "issuer with users of the embedded provider",
		yaml: `trust_domain: bank.local
identity_provider:
  issuer: https://idp.example
  users:
    - name: alice
`,
		want: []string{`bulwark.yaml:3: identity_provider.issuer: users and clients belong to the embedded provider: remove them or the issuer`},
	},
	{
		name: "HS256 in algorithms",
		yaml: `trust_domain: bank.local
identity_provider:
  algorithms:
    - ES256
    - HS256
`,
		want: []string{`bulwark.yaml:5: identity_provider.algorithms[1]: algorithm "HS256" is not allowed; choose from ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA`},
	},
	{
		name: "none in algorithms",
		yaml: `trust_domain: bank.local
identity_provider:
  algorithms: ["none"]
`,
		want: []string{`bulwark.yaml:3: identity_provider.algorithms[0]: algorithm "none" is not allowed; choose from ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA`},
	},
	{
		name: "public client with a plain-http remote redirect",
		yaml: `trust_domain: bank.local
identity_provider:
  clients:
    - id: web
      public: true
      redirect_uris: ["http://bank.example/cb"]
`,
		want: []string{`bulwark.yaml:6: identity_provider.clients[0].redirect_uris[0]: want an https URL, or http on a loopback address, without fragment; got "http://bank.example/cb"`},
	},
	{
		name: "YAML alias",
		yaml: `trust_domain: &td bank.local
state_dir: *td
`,
		want: []string{`bulwark.yaml:2: state_dir: YAML aliases are not allowed`},
	},
	{
		name: "YAML alias in a list",
		yaml: `trust_domain: bank.local
services:
  - &svc
    name: accounts
    upstream: unix:accounts.sock
  - *svc
`,
		want: []string{`bulwark.yaml:6: services[1]: YAML aliases are not allowed`},
	},
	{
		name: "YAML merge key",
		yaml: `trust_domain: bank.local
<<: {state_dir: /tmp}
`,
		want: []string{`bulwark.yaml:2: <<: unknown key`},
	},
	{
		name: "multiple documents",
		yaml: `trust_domain: bank.local
---
trust_domain: evil.local
`,
		want: []string{`bulwark.yaml:2: more than one YAML document`},
	},
	{
		name: "empty file",
		yaml: ``,
		want: []string{`bulwark.yaml: file is empty`},
	},
	{
		name: "comments only",
		yaml: `# nothing here
`,
		want: []string{`bulwark.yaml: file is empty`},
	},
	{
		name: "gateway listening on every address without a public URL",
		yaml: `trust_domain: bank.local
gateway:
  listen: 0.0.0.0:8443
`,
		want: []string{`bulwark.yaml:3: gateway.public_url: required when gateway.listen ("0.0.0.0:8443") names no single host: the issuer URL is derived from it`},
	},
	{
		name: "http redirect URI for a confidential client",
		yaml: `trust_domain: bank.local
identity_provider:
  clients:
    - id: web
      redirect_uris: ["http://127.0.0.1/cb"]
`,
		want: []string{`bulwark.yaml:5: identity_provider.clients[0].redirect_uris[0]: an http (loopback) redirect URI is only for public clients; use https for a confidential client`},
	},
	{
		name: "not a mapping",
		yaml: `- trust_domain: bank.local
`,
		want: []string{`bulwark.yaml:1: want a mapping, got a list`},
	},
	{
		name: "not YAML",
		yaml: `trust_domain: [bank.local
`,
		want: []string{`bulwark.yaml:1: not valid YAML: did not find expected ',' or ']'`},
	},
	{
		name: "several decode errors at once",
		yaml: `trust_domain: bank.local
colour: red
identity:
  svid_ttl: abc
services:
  - name: 123
    upstream: unix:x.sock
`,
		want: []string{
			`bulwark.yaml:2: colour: unknown key`,
			`bulwark.yaml:4: identity.svid_ttl: want a duration such as 30s or 1h, got "abc"`,
			`bulwark.yaml:6: services[0].name: want a string, got int "123" (quote it if you mean a string)`,
		},
	},
	{
		name: "several validation errors at once",
		yaml: `trust_domain: bank.local
identity:
  svid_ttl: 1s
services:
  - name: gateway
    upstream: http://192.0.2.1:80
gateway:
  routes:
    - path: api
      service: nope
identity_provider:
  algorithms: [HS256]
`,
		want: []string{
			`bulwark.yaml:3: identity.svid_ttl: must be between 10s and 24h, got 1s`,
			`bulwark.yaml:5: services[0].name: "gateway" is reserved for Bulwark's own workload`,
			`bulwark.yaml:6: services[0].upstream: "192.0.2.1" is not a loopback address: the app would be reachable in plaintext; set unsafe_non_loopback_upstream to accept that`,
			`bulwark.yaml:9: gateway.routes[0].path: path pattern "api" must start with /`,
			`bulwark.yaml:10: gateway.routes[0].service: unknown service "nope"`,
			`bulwark.yaml:12: identity_provider.algorithms[0]: algorithm "HS256" is not allowed; choose from ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA`,
		},
	},
}

func TestParseRefusesBadConfigs(t *testing.T) {
	for _, tt := range badConfigs {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bulwark.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("got config %+v and nil error, want:\n%s", c, strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("got a non-nil config alongside the error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestParseJoinsErrors checks that every reported problem is a separate, located *Error
// that callers can inspect, not one flattened string.
func TestParseJoinsErrors(t *testing.T) {
	for _, tt := range badConfigs {
		if len(tt.want) < 2 {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(tt.yaml))
			joined, ok := err.(interface{ Unwrap() []error })
			if !ok {
				t.Fatalf("got %T, want an errors.Join result", err)
			}
			errs := joined.Unwrap()
			if got, want := len(errs), len(tt.want); got != want {
				t.Fatalf("got %d errors, want %d", got, want)
			}
			for i, e := range errs {
				var ce *Error
				if !errors.As(e, &ce) {
					t.Errorf("error %d: got %T, want *config.Error", i, e)
					continue
				}
				if ce.File != "bulwark.yaml" || ce.Line == 0 || ce.Path == "" {
					t.Errorf("error %d: got File=%q Line=%d Path=%q, want all set", i, ce.File, ce.Line, ce.Path)
				}
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"file line path", Error{File: "b.yaml", Line: 3, Path: "a.b", Msg: "bad"}, "b.yaml:3: a.b: bad"},
		{"no line", Error{File: "b.yaml", Path: "a.b", Msg: "bad"}, "b.yaml: a.b: bad"},
		{"no path", Error{File: "b.yaml", Line: 2, Msg: "bad"}, "b.yaml:2: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
