package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// TrustedIssuer is one more OAuth 2.0 / OpenID Connect issuer whose access tokens the
// gateway accepts, next to identity_provider's own (the embedded provider or
// identity_provider.issuer). The gateway picks the issuer by the token's "iss" and verifies
// the token only with that issuer's keys and rules.
type TrustedIssuer struct {
	// Issuer is the exact "iss" of its tokens: an https URL without query or fragment,
	// different from every other trusted issuer. Required.
	Issuer string `yaml:"issuer"`
	// JWKSURL is the issuer's key set (https). Default: discovered from
	// <issuer>/.well-known/openid-configuration.
	JWKSURL string `yaml:"jwks_url"`
	// CAFile is a PEM bundle to trust for this issuer's TLS; default: system roots.
	CAFile string `yaml:"ca_file"`
	// Audience is the "aud" its tokens must carry. Default: identity_provider.audience.
	Audience string `yaml:"audience"`
	// Algorithms is this issuer's JWS algorithm allow-list. Default [ES256, RS256].
	Algorithms []string `yaml:"algorithms"`
	// RolesClaim is the claim holding roles in its tokens; a dotted path such as
	// "realm_access.roles" follows nested objects. Default "roles".
	RolesClaim string `yaml:"roles_claim"`
	// RequiredTyp, when set, is the only JWS "typ" header accepted from this issuer
	// (e.g. "at+jwt" for an RFC 9068 issuer, which keeps its ID tokens out). Default: any
	// of at+jwt, application/at+jwt, JWT or none.
	RequiredTyp string `yaml:"required_typ"`
}

// typRE is a media subtype such as at+jwt.
var typRE = regexp.MustCompile(`^(?i:application/)?[a-zA-Z0-9][a-zA-Z0-9.+-]{0,63}$`)

func (c *Config) applyTrustedIssuerDefaults() {
	ip := &c.IdentityProvider
	for i := range ip.TrustedIssuers {
		ti := &ip.TrustedIssuers[i]
		if ti.Audience == "" {
			ti.Audience = ip.Audience
		}
		if len(ti.Algorithms) == 0 {
			ti.Algorithms = []string{"ES256", "RS256"}
		}
		if ti.RolesClaim == "" {
			ti.RolesClaim = "roles"
		}
	}
}

// validateTrustedIssuers checks identity_provider.required_typ and trusted_issuers.
func (c *Config) validateTrustedIssuers() []error {
	var errs []error
	ip := c.IdentityProvider
	if ip.RequiredTyp != "" && !typRE.MatchString(ip.RequiredTyp) {
		errs = append(errs, c.errAt("identity_provider.required_typ", "want a media type such as at+jwt, got %q", ip.RequiredTyp))
	}
	seen := map[string]string{}
	if ip.Issuer != "" {
		seen[strings.TrimSuffix(ip.Issuer, "/")] = "identity_provider.issuer"
	} else if c.Gateway.PublicURL != "" {
		seen[c.Issuer("")] = "the embedded provider"
	}
	for i, ti := range ip.TrustedIssuers {
		p := fmt.Sprintf("identity_provider.trusted_issuers[%d]", i)
		if err := checkIssuerURL(ti.Issuer); err != nil {
			errs = append(errs, c.errAt(p+".issuer", "%v", err))
		} else if other, dup := seen[strings.TrimSuffix(ti.Issuer, "/")]; dup {
			errs = append(errs, c.errAt(p+".issuer", "%q is already trusted as %s", ti.Issuer, other))
		} else {
			seen[strings.TrimSuffix(ti.Issuer, "/")] = p
		}
		if ti.JWKSURL != "" {
			if err := checkIssuerURL(ti.JWKSURL); err != nil {
				errs = append(errs, c.errAt(p+".jwks_url", "%v", err))
			}
		}
		for j, a := range ti.Algorithms {
			if !slices.Contains(allowAlg, a) {
				errs = append(errs, c.errAt(fmt.Sprintf("%s.algorithms[%d]", p, j), "algorithm %q is not allowed; choose from %s", a, strings.Join(allowAlg, ", ")))
			}
		}
		if ti.RequiredTyp != "" && !typRE.MatchString(ti.RequiredTyp) {
			errs = append(errs, c.errAt(p+".required_typ", "want a media type such as at+jwt, got %q", ti.RequiredTyp))
		}
	}
	return errs
}

// checkIssuerURL accepts an absolute https URL without credentials, query or fragment.
func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want an https URL without credentials, query or fragment, got %q", s)
	}
	return nil
}
