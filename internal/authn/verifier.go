package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/time/rate"
)

// Verifier verifies access tokens from one issuer. It is safe for concurrent use.
type Verifier struct {
	o       Options
	algs    []jose.SignatureAlgorithm
	keys    atomic.Pointer[keySet]
	limiter *rate.Limiter
	// fetching is a one-slot semaphore: one JWKS fetch at a time, and waiters can give up
	// with their context (a sync.Mutex could not).
	fetching chan struct{}
	jwksURL  string // guarded by fetching
}

// NewVerifier validates o and fills in its defaults. It does not fetch anything: the issuer
// may start later, and the first Verify fetches the keys.
func NewVerifier(o Options) (*Verifier, error) {
	o, algs, err := o.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("authn options: %w", err)
	}
	return &Verifier{
		o:        o,
		algs:     algs,
		limiter:  rate.NewLimiter(rate.Every(o.MinRefreshInterval), 1),
		fetching: make(chan struct{}, 1),
		jwksURL:  o.JWKSURL,
	}, nil
}

// forbiddenHeaders carry key material, point at keys the attacker controls, or change how
// the token must be processed. A gateway takes keys only from its configured JWKS.
var forbiddenHeaders = []string{"jwk", "jku", "x5u", "x5c", "crit", "b64"}

// Verify checks raw as described in the package doc and returns who it speaks for. Every
// refusal is an *Error, except an empty raw, which is ErrNoToken.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	if len(raw) > v.o.MaxTokenBytes {
		return Principal{}, invalidToken("token too large", fmt.Errorf("%d bytes, limit %d", len(raw), v.o.MaxTokenBytes))
	}
	tok, err := jwt.ParseSigned(raw, v.algs)
	if err != nil {
		if alg, ok := headerAlg(raw); ok && !slices.Contains(v.algs, jose.SignatureAlgorithm(alg)) {
			return Principal{}, invalidToken("algorithm not allowed", err)
		}
		return Principal{}, invalidToken("malformed token", err)
	}
	if len(tok.Headers) != 1 {
		return Principal{}, invalidToken("malformed token", fmt.Errorf("%d signatures, want 1", len(tok.Headers)))
	}
	hdr := tok.Headers[0]
	if err := checkHeader(raw); err != nil {
		return Principal{}, invalidToken("unsupported token header", err)
	}
	keys, err := v.keysFor(ctx, hdr.KeyID, hdr.Algorithm)
	if err != nil {
		return Principal{}, err
	}

	var std jwt.Claims
	var extra map[string]any
	err = errors.New("no candidate key")
	for _, k := range keys {
		if err = tok.Claims(k.Key, &std, &extra); err == nil || !errors.Is(err, jose.ErrCryptoFailure) {
			break
		}
	}
	switch {
	case errors.Is(err, jose.ErrCryptoFailure):
		return Principal{}, invalidToken("invalid signature", err)
	case err != nil:
		return Principal{}, invalidToken("malformed claims", err)
	}
	return v.principal(std, extra)
}

// principal checks the registered claims and builds the Principal.
func (v *Verifier) principal(std jwt.Claims, extra map[string]any) (Principal, error) {
	if std.Expiry == nil {
		return Principal{}, invalidToken("token has no expiry", nil)
	}
	err := std.ValidateWithLeeway(jwt.Expected{
		Issuer:      v.o.Issuer,
		AnyAudience: jwt.Audience{v.o.Audience},
		Time:        v.o.Now(),
	}, v.o.Leeway)
	if err != nil {
		return Principal{}, invalidToken(claimsErrorDescription(err), err)
	}
	if std.Subject == "" {
		return Principal{}, invalidToken("token has no subject", nil)
	}
	if isIDToken(extra) {
		return Principal{}, invalidToken("an ID token is not an access token", nil)
	}
	p := Principal{Issuer: std.Issuer, Subject: std.Subject, Expiry: std.Expiry.Time().UTC()}
	if p.ClientID, err = clientID(extra); err != nil {
		return Principal{}, invalidToken("malformed claims", err)
	}
	if p.Roles, err = roles(extra, v.o.RolesClaim); err != nil {
		return Principal{}, invalidToken("malformed claims", err)
	}
	if p.Scopes, err = scopes(extra); err != nil {
		return Principal{}, invalidToken("malformed claims", err)
	}
	return p, nil
}

func claimsErrorDescription(err error) string {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrNotValidYet):
		return "token not yet valid"
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrInvalidAudience):
		return "wrong audience"
	}
	return "invalid claims"
}

// protectedHeader decodes the first part of a compact JWS into its raw members. go-jose
// keeps some members (x5c) private, so the deny-list is checked on this view instead.
func protectedHeader(raw string) (map[string]json.RawMessage, error) {
	first, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(first)
	if err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	return h, nil
}

// headerAlg returns the "alg" member, only to explain a refusal.
func headerAlg(raw string) (string, bool) {
	h, err := protectedHeader(raw)
	if err != nil {
		return "", false
	}
	var alg string
	if json.Unmarshal(h["alg"], &alg) != nil {
		return "", false
	}
	return alg, true
}

// checkHeader refuses forbidden members and a "typ" that does not name a JWT access token
// (RFC 9068 section 2.1; plain "JWT" is what most issuers still send).
func checkHeader(raw string) error {
	h, err := protectedHeader(raw)
	if err != nil {
		return err
	}
	for _, name := range forbiddenHeaders {
		if _, ok := h[name]; ok {
			return fmt.Errorf("header %q is not accepted", name)
		}
	}
	typRaw, ok := h["typ"]
	if !ok {
		return nil
	}
	var typ string
	if err := json.Unmarshal(typRaw, &typ); err != nil {
		return fmt.Errorf("header typ: %w", err)
	}
	switch strings.ToLower(typ) {
	case "at+jwt", "application/at+jwt", "jwt":
		return nil
	}
	return fmt.Errorf("header typ %q is not an access token type", typ)
}
