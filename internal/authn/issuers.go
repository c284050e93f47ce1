package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// RevocationChecker says whether an issuer has revoked the token with this jti. An error
// means the answer is unknown (no revocation list was ever received), and the token is
// refused.
type RevocationChecker interface {
	Revoked(ctx context.Context, issuer, jti string) (bool, error)
}

// IssuerSetOptions configures an IssuerSet. A zero field means its default.
type IssuerSetOptions struct {
	// Issuers are the trusted issuers, each verified with its own keys, audience,
	// algorithms, roles claim and typ requirement. At least one; issuers must differ.
	Issuers []Options
	// Revoked, when set, is asked about every token, cached or not.
	Revoked RevocationChecker
	// CacheSize bounds the verified-token cache (entries). Default 10000; negative
	// disables the cache.
	CacheSize int
	// CacheTTL is the longest a verification is reused; an entry never outlives its
	// token's exp either. Default 30s.
	CacheTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

const (
	defaultCacheSize = 10000
	defaultCacheTTL  = 30 * time.Second
)

// IssuerSet verifies access tokens from several issuers. It picks the issuer by the
// token's "iss" (read before the signature is checked, only to choose) and verifies the
// token with that issuer's Verifier alone, so a key from one issuer's JWKS never verifies
// another issuer's token. Successful verifications are cached by the SHA-256 of the raw
// token. It is safe for concurrent use.
type IssuerSet struct {
	byIssuer map[string]*Verifier
	algs     []jose.SignatureAlgorithm // union, for the first parse
	maxBytes int                       // largest MaxTokenBytes, for the first size check
	revoked  RevocationChecker
	cache    *tokenCache // nil when disabled
	now      func() time.Time
}

// NewIssuerSet validates every issuer's options and builds the set. Nothing is fetched.
func NewIssuerSet(o IssuerSetOptions) (*IssuerSet, error) {
	if len(o.Issuers) == 0 {
		return nil, errors.New("authn: no issuer to trust")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &IssuerSet{byIssuer: map[string]*Verifier{}, revoked: o.Revoked, now: o.Now}
	var errs []error
	for i, io := range o.Issuers {
		if io.Now == nil {
			io.Now = o.Now
		}
		v, err := NewVerifier(io)
		if err != nil {
			errs = append(errs, fmt.Errorf("issuer %d (%s): %w", i, io.Issuer, err))
			continue
		}
		if _, dup := s.byIssuer[io.Issuer]; dup {
			errs = append(errs, fmt.Errorf("issuer %d: %q is listed twice", i, io.Issuer))
			continue
		}
		s.byIssuer[io.Issuer] = v
		s.maxBytes = max(s.maxBytes, v.o.MaxTokenBytes)
		for _, a := range v.algs {
			if !slices.Contains(s.algs, a) {
				s.algs = append(s.algs, a)
			}
		}
	}
	switch {
	case o.CacheSize < 0:
	case o.CacheTTL < 0:
		errs = append(errs, errors.New("authn: cache ttl must not be negative"))
	default:
		size, ttl := o.CacheSize, o.CacheTTL
		if size == 0 {
			size = defaultCacheSize
		}
		if ttl == 0 {
			ttl = defaultCacheTTL
		}
		s.cache = newTokenCache(size, ttl)
		for iss, v := range s.byIssuer {
			v.onRemoved = func(thumbs []string) { s.cache.dropKeys(iss, thumbs) }
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Verify checks raw against the issuer its "iss" names, then asks the revocation checker.
// Every refusal is an *Error, except an empty raw, which is ErrNoToken. The Principal's
// slices are the caller's own.
func (s *IssuerSet) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	now := s.now()
	var key [32]byte
	if s.cache != nil && len(raw) <= s.maxBytes {
		key = cacheKey(raw)
		if e, ok := s.cache.get(key, now); ok {
			if v := s.byIssuer[e.p.Issuer]; v != nil && v.keys.Load().has(e.thumb) {
				if err := s.checkRevoked(ctx, e.p); err != nil {
					s.cache.drop(key)
					return Principal{}, err
				}
				return e.p.clone(), nil
			}
			s.cache.drop(key) // its key was retired after the check
		}
	}
	tok, err := parseToken(raw, s.maxBytes, s.algs)
	if err != nil {
		return Principal{}, err
	}
	var peek struct {
		Issuer string `json:"iss"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&peek); err != nil {
		return Principal{}, invalidToken("malformed claims", err)
	}
	v, ok := s.byIssuer[peek.Issuer]
	if !ok {
		// No fetch happens for an issuer nobody configured.
		return Principal{}, invalidToken("untrusted issuer", fmt.Errorf("iss %q is not a trusted issuer", peek.Issuer))
	}
	p, thumb, err := v.verify(ctx, raw, tok)
	if err != nil {
		return Principal{}, err
	}
	if err := s.checkRevoked(ctx, p); err != nil {
		return Principal{}, err
	}
	if s.cache != nil {
		s.cache.put(key, cacheEntry{p: p.clone(), thumb: thumb}, now)
	}
	return p, nil
}

func (s *IssuerSet) checkRevoked(ctx context.Context, p Principal) error {
	if s.revoked == nil || p.TokenID == "" {
		return nil
	}
	revoked, err := s.revoked.Revoked(ctx, p.Issuer, p.TokenID)
	switch {
	case err != nil:
		return invalidToken("revocation status unavailable", err)
	case revoked:
		return invalidToken("token revoked", nil)
	}
	return nil
}

// Forget drops any cached verification of tokens with this issuer and jti; a revocation
// feed calls it so the cache never holds a revoked token longer than it must.
func (s *IssuerSet) Forget(issuer, jti string) {
	if s.cache != nil {
		s.cache.dropToken(issuer, jti)
	}
}

func (p Principal) clone() Principal {
	p.Roles = slices.Clone(p.Roles)
	p.Scopes = slices.Clone(p.Scopes)
	return p
}
