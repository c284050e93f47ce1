package authn

import (
	"context"
	"testing"
	"time"
)

// benchVerify measures IssuerSet.Verify of one valid ES256 token against a real TLS JWKS
// server, with the verified-token cache on (cacheSize 0: default) or off (-1).
func benchVerify(b *testing.B, cacheSize int) {
	clock := newTestClock()
	key := newES256(b, "k1")
	is := newTestIssuer(b, key.jwk())
	set, err := NewIssuerSet(IssuerSetOptions{
		Issuers:   []Options{issuerOpts(is, clock, nil)},
		CacheSize: cacheSize, CacheTTL: time.Hour, Now: clock.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := key.sign(b, claims(is.URL(), clock.Now(), func(c map[string]any) { c["jti"] = "bench" }), nil)
	ctx := context.Background()
	if _, err := set.Verify(ctx, tok); err != nil { // fetch the JWKS outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := set.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify runs both cases in one process so that their ratio is meaningful:
//
//	go test ./internal/authn -run '^$' -bench BenchmarkVerify -count 5
func BenchmarkVerify(b *testing.B) {
	b.Run("no-cache", func(b *testing.B) { benchVerify(b, -1) })
	b.Run("cache", func(b *testing.B) { benchVerify(b, 0) })
}
