package authn

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestKeyRotation(t *testing.T) {
	clock := newTestClock()
	oldKey, newKey := newES256(t, "old"), newES256(t, "new")
	is := newTestIssuer(t, oldKey.jwk())
	v := is.verifier(t, clock, nil)
	ctx := context.Background()
	verify := func(k testKey) (Principal, error) {
		return v.Verify(ctx, k.sign(t, claims(is.URL(), clock.Now(), nil), nil))
	}

	if _, err := verify(oldKey); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	is.setKeys(newKey.jwk())

	p, err := verify(newKey)
	wantRefused(t, p, err, "unknown signing key")
	if got, want := is.jwksHits.Load(), int64(1); got != want {
		t.Fatalf("JWKS fetches within MinRefreshInterval = %d, want %d", got, want)
	}

	clock.Advance(defaultMinRefreshInterval)
	if _, err := verify(newKey); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if got, want := is.jwksHits.Load(), int64(2); got != want {
		t.Fatalf("JWKS fetches after an unknown kid = %d, want %d", got, want)
	}
	p, err = verify(oldKey)
	wantRefused(t, p, err, "unknown signing key")
}

func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	clock := newTestClock()
	key := newES256(t, "k1")
	is := newTestIssuer(t, key.jwk())
	v := is.verifier(t, clock, nil)
	c := claims(is.URL(), clock.Now(), nil)

	ctx := context.Background()
	randomKIDToken := func(i int) string {
		// Signed by a fresh key under a random kid nobody publishes.
		return newES256(t, fmt.Sprintf("random-%d-%s", i, rand.Text())).sign(t, c, nil)
	}
	// One after the other, so concurrent callers sharing one fetch cannot hide a missing
	// limiter; then a concurrent batch, for the race detector.
	for i := range 50 {
		if p, err := v.Verify(ctx, randomKIDToken(i)); err == nil {
			t.Fatalf("token with unknown kid verified: %+v", p)
		}
	}
	var wg sync.WaitGroup
	for i := range 20 {
		tok := randomKIDToken(i)
		wg.Go(func() {
			if p, err := v.Verify(ctx, tok); err == nil {
				t.Errorf("token with unknown kid verified: %+v", p)
			}
		})
	}
	wg.Wait()
	if got := is.jwksHits.Load(); got < 1 || got > 2 {
		t.Fatalf("JWKS fetches for 70 unknown kids within one MinRefreshInterval = %d, want 1 or 2", got)
	}
	if _, err := v.Verify(ctx, key.sign(t, c, nil)); err != nil {
		t.Fatalf("known key after the storm: %v", err)
	}
}

func TestPeriodicRefresh(t *testing.T) {
	clock := newTestClock()
	key := newES256(t, "k1")
	is := newTestIssuer(t, key.jwk())
	v := is.verifier(t, clock, func(o *Options) { o.RefreshInterval = time.Hour })
	verify := func() error {
		_, err := v.Verify(context.Background(), key.sign(t, claims(is.URL(), clock.Now(), nil), nil))
		return err
	}
	steps := []struct {
		advance  time.Duration
		wantHits int64
	}{{0, 1}, {59 * time.Minute, 1}, {time.Minute, 2}, {time.Minute, 2}}
	for i, s := range steps {
		clock.Advance(s.advance)
		if err := verify(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := is.jwksHits.Load(); got != s.wantHits {
			t.Fatalf("step %d: JWKS fetches = %d, want %d", i, got, s.wantHits)
		}
	}
}

func TestFetchFailures(t *testing.T) {
	key := newES256(t, "k1")
	good, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.jwk()}})
	if err != nil {
		t.Fatal(err)
	}
	reply := func(status int, contentType string, body []byte) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}
	}
	tests := []struct {
		name  string
		reply func(http.ResponseWriter)
	}{
		{"status 500", reply(http.StatusInternalServerError, "application/json", good)},
		{"status 204", reply(http.StatusNoContent, "application/json", nil)},
		{"not JSON content type", reply(http.StatusOK, "text/html", good)},
		{"JSON garbage", reply(http.StatusOK, "application/json", []byte("{not json"))},
		{"no keys member", reply(http.StatusOK, "application/json", []byte(`{"kes":[]}`))},
		// Valid JSON even when cut at the cap, so only the size check refuses it.
		{"over 1 MiB", reply(http.StatusOK, "application/json", append(good, strings.Repeat(" ", maxDocumentBytes)...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			is := newTestIssuer(t, key.jwk())
			v := is.verifier(t, clock, nil)
			tok := func() string { return key.sign(t, claims(is.URL(), clock.Now(), nil), nil) }

			is.setJWKSReply(tt.reply)
			p, err := v.Verify(context.Background(), tok())
			wantRefused(t, p, err, "signing keys unavailable")

			is.setJWKSReply(nil)
			clock.Advance(defaultMinRefreshInterval)
			if _, err := v.Verify(context.Background(), tok()); err != nil {
				t.Fatalf("after the issuer recovered: %v", err)
			}

			// A failed periodic refresh keeps serving the cached keys.
			is.setJWKSReply(tt.reply)
			clock.Advance(defaultRefreshInterval)
			hits := is.jwksHits.Load()
			if _, err := v.Verify(context.Background(), tok()); err != nil {
				t.Fatalf("cached keys while the issuer fails: %v", err)
			}
			if got := is.jwksHits.Load(); got != hits+1 {
				t.Fatalf("JWKS fetches = %d, want a refresh attempt (%d)", got, hits+1)
			}
		})
	}
}

func TestFetchKeepsOnlySignatureKeys(t *testing.T) {
	sig, priv, enc, verifyOnly, encryptOnly := newES256(t, "sig"), newES256(t, "priv"), newES256(t, "enc"), newES256(t, "ops-verify"), newES256(t, "ops-encrypt")
	encJWK := enc.jwk()
	encJWK.Use = "enc"
	privJWK := jose.JSONWebKey{Key: priv.priv, KeyID: "priv", Algorithm: "ES256"}
	var entries []json.RawMessage
	for _, k := range []jose.JSONWebKey{sig.jwk(), privJWK, encJWK, {Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"}} {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
	}
	withOps := func(k testKey, ops string) json.RawMessage {
		b, err := k.jwk().MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return json.RawMessage(strings.TrimSuffix(string(b), "}") + `,"key_ops":["` + ops + `"]}`)
	}
	entries = append(entries, withOps(verifyOnly, "verify"), withOps(encryptOnly, "encrypt"),
		json.RawMessage(`{"kty":"XYZ","kid":"future"}`))

	is := newTestIssuer(t)
	is.setJWKSReply(func(w http.ResponseWriter) { writeJSON(w, map[string]any{"keys": entries}) })
	keys, skipped, err := fetchKeys(context.Background(), is.srv.Client(), is.URL()+"/jwks")
	if err != nil {
		t.Fatalf("fetchKeys: %v", err)
	}
	var got []string
	for _, k := range keys {
		if !k.IsPublic() {
			t.Errorf("key %q kept with private material", k.KeyID)
		}
		got = append(got, k.KeyID)
	}
	if want := []string{"sig", "priv", "ops-verify"}; strings.Join(got, ",") != strings.Join(want, ",") || skipped != 4 {
		t.Fatalf("kept keys = %v (skipped %d), want %v (skipped 4)", got, skipped, want)
	}
}
