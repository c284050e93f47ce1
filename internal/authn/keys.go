package authn

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fetchTimeout bounds one discovery plus JWKS fetch.
const fetchTimeout = 10 * time.Second

// keySet is one fetched JWKS, filtered to keys usable for signatures. It is never mutated
// after it is stored, so readers need no lock.
type keySet struct {
	keys    []setKey
	fetched time.Time
}

// setKey is a public key with its RFC 7638 thumbprint. The thumbprint, not the kid, says
// whether a key is still published: an issuer may reuse a kid for a new key.
type setKey struct {
	jose.JSONWebKey
	thumb string
}

// has reports whether the set still holds the key with this thumbprint.
func (s *keySet) has(thumb string) bool {
	if s == nil {
		return false
	}
	for _, k := range s.keys {
		if k.thumb == thumb {
			return true
		}
	}
	return false
}

// removed lists the thumbprints in old that next no longer holds.
func removed(old, next *keySet) []string {
	if old == nil {
		return nil
	}
	var out []string
	for _, k := range old.keys {
		if !next.has(k.thumb) {
			out = append(out, k.thumb)
		}
	}
	return out
}

var (
	errUnknownKey = errors.New("no key with this kid")
	errNeedKID    = errors.New("token has no kid and the key set holds several keys")
	errKeyAlg     = errors.New("key is not for this algorithm")
	errRateLimit  = errors.New("jwks refetch rate-limited")
)

// match returns the keys that may verify a token with this kid and alg. It tells an
// unknown kid (worth a refetch) apart from a known kid whose key does not fit the alg.
func (s *keySet) match(kid, alg string) ([]setKey, error) {
	if s == nil {
		return nil, errUnknownKey
	}
	if kid == "" && len(s.keys) > 1 {
		return nil, errNeedKID
	}
	var found bool
	var out []setKey
	for _, k := range s.keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		found = true
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		out = append(out, k)
	}
	switch {
	case !found:
		return nil, errUnknownKey
	case len(out) == 0:
		return nil, fmt.Errorf("kid %q, alg %s: %w", kid, alg, errKeyAlg)
	}
	return out, nil
}

// keysFor returns the candidate keys for a token, fetching the JWKS when none is cached,
// when the cached one is older than RefreshInterval, or when kid is unknown.
func (v *Verifier) keysFor(ctx context.Context, kid, alg string) ([]setKey, error) {
	set := v.keys.Load()
	if set == nil || v.o.Now().Sub(set.fetched) >= v.o.RefreshInterval {
		refreshed, err := v.refresh(ctx, set)
		if refreshed == nil {
			return nil, invalidToken("signing keys unavailable", err)
		}
		set = refreshed
	}
	keys, err := set.match(kid, alg)
	if errors.Is(err, errUnknownKey) {
		// The issuer may have rotated its keys since the last fetch.
		if refreshed, rerr := v.refresh(ctx, set); refreshed != set {
			keys, err = refreshed.match(kid, alg)
		} else if rerr != nil {
			err = fmt.Errorf("%w (%w)", err, rerr)
		}
	}
	switch {
	case errors.Is(err, errNeedKID):
		return nil, invalidToken("token has no key id", err)
	case errors.Is(err, errKeyAlg):
		return nil, invalidToken("signing key does not match algorithm", err)
	case err != nil:
		return nil, invalidToken("unknown signing key", err)
	}
	return keys, nil
}

// refresh fetches the JWKS unless another caller replaced seen while this one waited, or
// the limiter says no. It returns the current set (possibly still seen, possibly nil) and
// why no new set was fetched. One fetch runs at a time; waiters give up with their ctx.
func (v *Verifier) refresh(ctx context.Context, seen *keySet) (*keySet, error) {
	select {
	case v.fetching <- struct{}{}:
	case <-ctx.Done():
		return seen, fmt.Errorf("wait for jwks fetch: %w", ctx.Err())
	}
	defer func() { <-v.fetching }()

	if cur := v.keys.Load(); cur != seen {
		return cur, nil
	}
	now := v.o.Now()
	if !v.limiter.AllowN(now, 1) {
		v.refreshed("rate_limited")
		return seen, errRateLimit
	}
	// The fetch outlives a caller that gives up: otherwise clients that disconnect at once
	// could spend every limiter token on fetches that never finish.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	set, err := v.fetch(fctx, now)
	if err != nil {
		v.o.Log.WarnContext(ctx, "jwks fetch failed; keeping cached keys",
			"issuer", v.o.Issuer, "cached_keys", seen != nil, "error", err)
		v.refreshed("error")
		return seen, err
	}
	v.keys.Store(set)
	v.refreshed("ok")
	if gone := removed(seen, set); len(gone) > 0 {
		v.o.Log.InfoContext(ctx, "jwks keys retired", "issuer", v.o.Issuer, "keys", len(gone))
		if v.onRemoved != nil {
			v.onRemoved(gone)
		}
	}
	return set, nil
}

// fetch discovers the JWKS URL on first use, then downloads the key set. Only refresh
// calls it, so jwksURL is guarded by the fetching semaphore.
func (v *Verifier) fetch(ctx context.Context, now time.Time) (*keySet, error) {
	if v.jwksURL == "" {
		u, err := discoverJWKSURL(ctx, v.o.HTTPClient, v.o.Issuer)
		if err != nil {
			return nil, err
		}
		v.jwksURL = u
	}
	jwks, skipped, err := fetchKeys(ctx, v.o.HTTPClient, v.jwksURL)
	if err != nil {
		return nil, err
	}
	keys := make([]setKey, 0, len(jwks))
	for _, k := range jwks {
		thumb, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			skipped++
			continue
		}
		keys = append(keys, setKey{JSONWebKey: k, thumb: string(thumb)})
	}
	v.o.Log.InfoContext(ctx, "jwks fetched", "issuer", v.o.Issuer, "url", v.jwksURL,
		"keys", len(keys), "skipped", skipped)
	return &keySet{keys: keys, fetched: now}, nil
}

// refreshed reports a refresh attempt's result to Options.OnRefresh.
func (v *Verifier) refreshed(result string) {
	if v.o.OnRefresh != nil {
		v.o.OnRefresh(v.o.Issuer, result)
	}
}
