package authn

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	key := newES256(t, "k1")
	tests := []struct {
		name      string
		doc       func(issuer string) map[string]any
		wantCause string // empty: the token verifies
	}{
		{"issuer and https jwks_uri", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, "jwks_uri": iss + "/jwks"}
		}, ""},
		{"issuer mismatch", func(iss string) map[string]any {
			return map[string]any{"issuer": "https://evil.example", "jwks_uri": iss + "/jwks"}
		}, "does not equal configured issuer"},
		{"issuer differs by a trailing slash", func(iss string) map[string]any {
			return map[string]any{"issuer": iss + "/", "jwks_uri": iss + "/jwks"}
		}, "does not equal configured issuer"},
		{"plaintext jwks_uri", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, "jwks_uri": strings.Replace(iss, "https:", "http:", 1) + "/jwks"}
		}, "not an absolute https URL"},
		{"no jwks_uri", func(iss string) map[string]any {
			return map[string]any{"issuer": iss}
		}, "not an absolute https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			is := newTestIssuer(t, key.jwk())
			is.setDiscovery(tt.doc(is.URL()))
			v := is.verifier(t, clock, func(o *Options) { o.JWKSURL = "" })
			p, err := v.Verify(context.Background(), key.sign(t, claims(is.URL(), clock.Now(), nil), nil))
			if tt.wantCause == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantRefused(t, p, err, "signing keys unavailable")
			if got := errors.Unwrap(err); got == nil || !strings.Contains(got.Error(), tt.wantCause) {
				t.Fatalf("cause = %v, want it to mention %q", got, tt.wantCause)
			}
			if got := is.jwksHits.Load(); got != 0 {
				t.Fatalf("JWKS fetched %d times after a refused discovery, want 0", got)
			}
		})
	}
}
