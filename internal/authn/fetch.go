package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// maxDocumentBytes caps JWKS and discovery responses.
const maxDocumentBytes = 1 << 20

// getJSON fetches url over https and decodes its JSON body into dst. It refuses anything
// but HTTP 200, a JSON media type, a body over maxDocumentBytes, and a redirect away from
// https.
func getJSON(ctx context.Context, client *http.Client, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.Request != nil && resp.Request.URL.Scheme != "https" {
		return fmt.Errorf("get %s: redirected to a non-https URL", url)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	if !isJSONMediaType(resp.Header.Get("Content-Type")) {
		return fmt.Errorf("get %s: content type %q is not JSON", url, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("get %s: response larger than %d bytes", url, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("decode %s: %w", url, err)
	}
	return nil
}

// isJSONMediaType accepts application/json and any +json type (application/jwk-set+json).
func isJSONMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// discoverJWKSURL reads the issuer's OpenID configuration (OpenID Connect Discovery 1.0,
// section 4) and returns its jwks_uri.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	if err := getJSON(ctx, client, wellKnown, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("discovery: document issuer %q does not equal configured issuer %q", doc.Issuer, issuer)
	}
	if err := checkHTTPS(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// fetchKeys downloads a JWKS and keeps the keys usable for verifying signatures. Keys that
// do not decode (an unknown kty, say) are skipped rather than failing the whole set, so one
// exotic key does not stop the others from working.
func fetchKeys(ctx context.Context, client *http.Client, url string) (keys []jose.JSONWebKey, skipped int, err error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, client, url, &doc); err != nil {
		return nil, 0, fmt.Errorf("jwks: %w", err)
	}
	if doc.Keys == nil {
		return nil, 0, errors.New("jwks: no \"keys\" member")
	}
	for _, raw := range *doc.Keys {
		var k jose.JSONWebKey
		var ops struct {
			KeyOps []string `json:"key_ops"`
		}
		if k.UnmarshalJSON(raw) != nil || json.Unmarshal(raw, &ops) != nil || !usableForSignatures(&k, ops.KeyOps) {
			skipped++
			continue
		}
		keys = append(keys, k.Public())
	}
	return keys, skipped, nil
}

// usableForSignatures refuses symmetric keys, keys meant for encryption, and keys whose
// key_ops exclude verification (RFC 7517 sections 4.2 and 4.3).
func usableForSignatures(k *jose.JSONWebKey, keyOps []string) bool {
	if _, symmetric := k.Key.([]byte); symmetric || !k.Valid() {
		return false
	}
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	return len(keyOps) == 0 || slices.Contains(keyOps, "verify")
}
