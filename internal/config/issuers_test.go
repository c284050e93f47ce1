package config

import (
	"slices"
	"strings"
	"testing"
)

// issBase is a valid config whose identity_provider section starts at line 5; line 6 is
// the first line a case adds.
const issBase = `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
identity_provider:
`

func TestTrustedIssuersDefaults(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(issBase+`  audience: bank-api
  required_typ: at+jwt
  trusted_issuers:
    - issuer: https://keycloak.example/realms/bank
      ca_file: /etc/bulwark/keycloak-ca.pem
      roles_claim: realm_access.roles
    - issuer: https://partner.example
      jwks_url: https://partner.example/keys
      audience: partner-api
      algorithms: [RS256]
      required_typ: application/at+jwt
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ip := c.IdentityProvider
	if ip.RequiredTyp != "at+jwt" {
		t.Errorf("required_typ = %q", ip.RequiredTyp)
	}
	want := []TrustedIssuer{
		{Issuer: "https://keycloak.example/realms/bank", CAFile: "/etc/bulwark/keycloak-ca.pem", Audience: "bank-api", Algorithms: []string{"ES256", "RS256"}, RolesClaim: "realm_access.roles"},
		{Issuer: "https://partner.example", JWKSURL: "https://partner.example/keys", Audience: "partner-api", Algorithms: []string{"RS256"}, RolesClaim: "roles", RequiredTyp: "application/at+jwt"},
	}
	if len(ip.TrustedIssuers) != len(want) {
		t.Fatalf("got %d trusted issuers, want %d", len(ip.TrustedIssuers), len(want))
	}
	for i, w := range want {
		g := ip.TrustedIssuers[i]
		if g.Issuer != w.Issuer || g.JWKSURL != w.JWKSURL || g.CAFile != w.CAFile || g.Audience != w.Audience ||
			!slices.Equal(g.Algorithms, w.Algorithms) || g.RolesClaim != w.RolesClaim || g.RequiredTyp != w.RequiredTyp {
			t.Errorf("trusted_issuers[%d]: got %+v, want %+v", i, g, w)
		}
	}
}

func TestTrustedIssuersRefused(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", `  trusted_issuers:
    - issuer: https://a.example
      audiance: x
`, "bulwark.yaml:8: identity_provider.trusted_issuers[0].audiance: unknown key (did you mean \"audience\"?)"},
		{"http issuer", `  trusted_issuers:
    - issuer: http://a.example
`, "bulwark.yaml:7: identity_provider.trusted_issuers[0].issuer: want an https URL"},
		{"missing issuer", `  trusted_issuers:
    - audience: x
`, "identity_provider.trusted_issuers[0].issuer: want an https URL"},
		{"duplicate", `  trusted_issuers:
    - issuer: https://a.example
    - issuer: https://a.example/
`, "bulwark.yaml:8: identity_provider.trusted_issuers[1].issuer: \"https://a.example/\" is already trusted as identity_provider.trusted_issuers[0]"},
		{"same as the external issuer", `  issuer: https://a.example
  trusted_issuers:
    - issuer: https://a.example
`, "identity_provider.trusted_issuers[0].issuer: \"https://a.example\" is already trusted as identity_provider.issuer"},
		{"bad algorithm", `  trusted_issuers:
    - issuer: https://a.example
      algorithms: [HS256]
`, "bulwark.yaml:8: identity_provider.trusted_issuers[0].algorithms[0]: algorithm \"HS256\" is not allowed"},
		{"jwks_url with credentials", `  trusted_issuers:
    - issuer: https://a.example
      jwks_url: https://u:p@a.example/keys
`, "identity_provider.trusted_issuers[0].jwks_url: want an https URL without credentials"},
		{"bad typ", `  trusted_issuers:
    - issuer: https://a.example
      required_typ: "at jwt"
`, "bulwark.yaml:8: identity_provider.trusted_issuers[0].required_typ: want a media type"},
		{"bad top-level typ", `  required_typ: "x\"y"
`, "bulwark.yaml:6: identity_provider.required_typ: want a media type"},
		{"not a list", `  trusted_issuers: https://a.example
`, "bulwark.yaml:6: identity_provider.trusted_issuers: want a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(issBase+tc.yaml))
			if err == nil {
				t.Fatal("Parse accepted the config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
