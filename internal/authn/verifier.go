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
	// onRemoved, when set (by an IssuerSet), hears the thumbprints of keys a refetch no
	// longer finds, so cached verifications made with them are dropped at once.
	onRemoved func(thumbs []string)
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
	p, _, err := v.verify(ctx, raw, nil)
	return p, err
}

// parseToken applies the size cap and parses the compact JWS with algs, explaining a
// refusal of the algorithm apart from other malformations.
func parseToken(raw string, maxBytes int, algs []jose.SignatureAlgorithm) (*jwt.JSONWebToken, error) {
	if raw == "" {
		return nil, ErrNoToken
	}
	if len(raw) > maxBytes {
		return nil, invalidToken("token too large", fmt.Errorf("%d bytes, limit %d", len(raw), maxBytes))
	}
	tok, err := jwt.ParseSigned(raw, algs)
	if err != nil {
		if alg, ok := headerAlg(raw); ok && !slices.Contains(algs, jose.SignatureAlgorithm(alg)) {
			return nil, invalidToken("algorithm not allowed", err)
		}
		return nil, invalidToken("malformed token", err)
	}
	if len(tok.Headers) != 1 {
		return nil, invalidToken("malformed token", fmt.Errorf("%d signatures, want 1", len(tok.Headers)))
	}
	return tok, nil
}

// verify is Verify for a token that an IssuerSet may have parsed already (tok non-nil,
// with the union of its issuers' algorithms). It also returns the thumbprint of the key
// that verified the signature, so a cache can drop the token when that key is retired.
func (v *Verifier) verify(ctx context.Context, raw string, tok *jwt.JSONWebToken) (Principal, string, error) {
	if tok == nil || len(raw) > v.o.MaxTokenBytes {
		var err error
		if tok, err = parseToken(raw, v.o.MaxTokenBytes, v.algs); err != nil {
			return Principal{}, "", err
		}
	}
	hdr := tok.Headers[0]
	if !slices.Contains(v.algs, jose.SignatureAlgorithm(hdr.Algorithm)) {
		return Principal{}, "", invalidToken("algorithm not allowed", fmt.Errorf("alg %s is not allowed for issuer %s", hdr.Algorithm, v.o.Issuer))
	}
	if err := checkHeader(raw, v.o.RequiredTyp); err != nil {
		return Principal{}, "", invalidToken("unsupported token header", err)
	}
	keys, err := v.keysFor(ctx, hdr.KeyID, hdr.Algorithm)
	if err != nil {
		return Principal{}, "", err
	}

	var std jwt.Claims
	var extra map[string]any
	var used string
	err = errors.New("no candidate key")
	for _, k := range keys {
		if err = tok.Claims(k.Key, &std, &extra); err == nil || !errors.Is(err, jose.ErrCryptoFailure) {
			used = k.thumb
			break
		}
	}
	switch {
	case errors.Is(err, jose.ErrCryptoFailure):
		return Principal{}, "", invalidToken("invalid signature", err)
	case err != nil:
		return Principal{}, "", invalidToken("malformed claims", err)
	}
	p, err := v.principal(std, extra)
	return p, used, err
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
	p := Principal{Issuer: std.Issuer, Subject: std.Subject, TokenID: std.ID, Expiry: std.Expiry.Time().UTC()}
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
// (RFC 9068 section 2.1; plain "JWT" is what most issuers still send). When the issuer is
// known to set a type (required, e.g. "at+jwt"), the header must carry exactly that type,
// so that another kind of JWT the issuer signs (an ID token, a logout token) is refused.
func checkHeader(raw, required string) error {
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
		if required != "" {
			return fmt.Errorf("header typ is missing, want %q", required)
		}
		return nil
	}
	var typ string
	if err := json.Unmarshal(typRaw, &typ); err != nil {
		return fmt.Errorf("header typ: %w", err)
	}
	if required != "" {
		// RFC 7515 section 4.1.9: "application/" may be omitted, and media types compare
		// case-insensitively.
		if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), required) {
			return fmt.Errorf("header typ %q, want %q", typ, required)
		}
		return nil
	}
	switch strings.ToLower(typ) {
	case "at+jwt", "application/at+jwt", "jwt":
		return nil
	}
	return fmt.Errorf("header typ %q is not an access token type", typ)
}
