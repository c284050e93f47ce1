package authn

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// tokenCache remembers successful verifications so that a token presented again within
// a short TTL skips the signature check (the gateway's largest per-request CPU cost).
// Keys are SHA-256 digests of the raw token, so the cache holds no token. An entry lives
// until min(token exp, insert time + ttl); it is dropped as soon as its signing key leaves
// the issuer's JWKS or its jti is revoked, and a hit re-checks both anyway.
type tokenCache struct {
	ttl time.Duration
	max int

	mu      sync.RWMutex
	entries map[[32]byte]cacheEntry
}

type cacheEntry struct {
	p     Principal
	thumb string // thumbprint of the key that verified the signature
	until time.Time
}

func newTokenCache(size int, ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, max: size, entries: make(map[[32]byte]cacheEntry, min(size, 1024))}
}

func cacheKey(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }

func (c *tokenCache) get(k [32]byte, now time.Time) (cacheEntry, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return cacheEntry{}, false
	}
	return e, true
}

// put stores e until min(its token's exp, now+ttl). When the cache is full it first drops
// expired entries, then arbitrary ones (Go's map order is random), so a flood of distinct
// valid tokens costs hit rate, never memory.
func (c *tokenCache) put(k [32]byte, e cacheEntry, now time.Time) {
	e.until = now.Add(c.ttl)
	if e.p.Expiry.Before(e.until) {
		e.until = e.p.Expiry
	}
	if !now.Before(e.until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		for key, old := range c.entries {
			if !now.Before(old.until) {
				delete(c.entries, key)
			}
		}
		for key := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, key)
		}
	}
	c.entries[k] = e
}

func (c *tokenCache) drop(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// dropKeys forgets every verification made with one of these keys of issuer.
func (c *tokenCache) dropKeys(issuer string, thumbs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.p.Issuer == issuer && slices.Contains(thumbs, e.thumb) {
			delete(c.entries, k)
		}
	}
}

// dropToken forgets the verification of the token with this issuer and jti.
func (c *tokenCache) dropToken(issuer, jti string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.p.Issuer == issuer && e.p.TokenID == jti {
			delete(c.entries, k)
		}
	}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
