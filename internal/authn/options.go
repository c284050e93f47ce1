package authn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Options configures a Verifier. A zero field means its default (see the package doc).
type Options struct {
	// Issuer is the exact expected "iss" claim. Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Required.
	Audience string
	// Algorithms is the JWS algorithm allow-list. Only asymmetric algorithms are accepted:
	// HS*, "none" and unknown names make NewVerifier fail. Default ES256, RS256.
	Algorithms []string
	// JWKSURL is the issuer's key set (https). When empty, it is discovered from
	// Issuer + "/.well-known/openid-configuration".
	JWKSURL string
	// HTTPClient is used for discovery and JWKS fetches. Required.
	HTTPClient *http.Client
	// RequiredTyp, when set (e.g. "at+jwt" for an RFC 9068 issuer), is the only JWS "typ"
	// accepted, with or without the "application/" prefix. Default: "at+jwt",
	// "application/at+jwt", "JWT" or no typ at all.
	RequiredTyp string
	// RolesClaim names the claim holding the roles. Default "roles".
	RolesClaim string
	// Leeway is the clock skew allowed for exp, nbf and iat. Default 30s.
	Leeway time.Duration
	// MaxTokenBytes caps the raw token length, checked before parsing. Default 8192.
	MaxTokenBytes int
	// MinRefreshInterval is the least time between two JWKS fetches, whatever triggers
	// them (unknown kid, periodic refresh, retry after a failure). Default 10s.
	MinRefreshInterval time.Duration
	// RefreshInterval is the age after which cached keys are refetched. Default 10m.
	RefreshInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Log receives fetch failures and key-set changes. Default: discard.
	Log *slog.Logger
	// OnRefresh, when set, is called after every JWKS refresh attempt with the issuer and
	// its result: "ok", "error", or "rate_limited" (MinRefreshInterval held it back). For
	// metrics; it must not block.
	OnRefresh func(issuer, result string)
}

const (
	defaultRolesClaim         = "roles"
	defaultLeeway             = 30 * time.Second
	defaultMaxTokenBytes      = 8192
	defaultMinRefreshInterval = 10 * time.Second
	defaultRefreshInterval    = 10 * time.Minute
)

// defaultAlgorithms matches config.IdentityProvider's default.
var defaultAlgorithms = []string{string(jose.ES256), string(jose.RS256)}

// asymmetricAlgs are the only algorithms an allow-list may name. HMAC algorithms are
// absent on purpose: with a public JWKS they invite algorithm-confusion attacks.
var asymmetricAlgs = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"PS256": jose.PS256, "PS384": jose.PS384, "PS512": jose.PS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "ES512": jose.ES512,
	"EdDSA": jose.EdDSA,
}

// withDefaults returns o with defaults filled in and every problem found, joined.
func (o Options) withDefaults() (Options, []jose.SignatureAlgorithm, error) {
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("issuer: required"))
	}
	if o.Audience == "" {
		errs = append(errs, errors.New("audience: required"))
	}
	if o.HTTPClient == nil {
		errs = append(errs, errors.New("http client: required"))
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = defaultAlgorithms
	}
	algs := make([]jose.SignatureAlgorithm, 0, len(o.Algorithms))
	for _, name := range o.Algorithms {
		alg, ok := asymmetricAlgs[name]
		if !ok {
			errs = append(errs, fmt.Errorf("algorithms: %q is not an allowed asymmetric JWS algorithm", name))
			continue
		}
		algs = append(algs, alg)
	}
	if o.JWKSURL != "" {
		if err := checkHTTPS(o.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("jwks url: %w", err))
		}
	} else if o.Issuer != "" {
		if err := checkHTTPS(o.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("issuer: discovery needs an https issuer: %w", err))
		}
	}
	if o.RolesClaim == "" {
		o.RolesClaim = defaultRolesClaim
	}
	o.RequiredTyp = strings.ToLower(strings.TrimPrefix(strings.ToLower(o.RequiredTyp), "application/"))
	if o.RequiredTyp != "" && !isToken(o.RequiredTyp) {
		errs = append(errs, fmt.Errorf("required typ: %q is not a media type name", o.RequiredTyp))
	}
	errs = append(errs,
		defaultDuration(&o.Leeway, defaultLeeway, "leeway"),
		defaultDuration(&o.MinRefreshInterval, defaultMinRefreshInterval, "min refresh interval"),
		defaultDuration(&o.RefreshInterval, defaultRefreshInterval, "refresh interval"),
	)
	switch {
	case o.MaxTokenBytes < 0:
		errs = append(errs, errors.New("max token bytes: must not be negative"))
	case o.MaxTokenBytes == 0:
		o.MaxTokenBytes = defaultMaxTokenBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, algs, errors.Join(errs...)
}

func defaultDuration(d *time.Duration, def time.Duration, name string) error {
	switch {
	case *d < 0:
		return fmt.Errorf("%s: must not be negative", name)
	case *d == 0:
		*d = def
	}
	return nil
}

// checkHTTPS accepts an absolute https URL with a host.
func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	if !strings.EqualFold(u.Scheme, "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute https URL", u.Redacted())
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and error messages.
		return fmt.Errorf("%q carries credentials; issuer and JWKS URLs must not", u.Redacted())
	}
	return nil
}

// isToken reports whether s is a plain media subtype such as "at+jwt" (letters, digits and
// "+.-"), so that a typ requirement cannot hold quotes or separators.
func isToken(s string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '.' || c == '-') {
			return false
		}
	}
	return s != ""
}
