// Package authn verifies OAuth 2.0 access tokens (signed JWTs, RFC 9068) at the gateway, for
// the embedded issuer and for any standards-compliant external issuer (Keycloak, Dex, Okta…).
//
// A [Verifier] checks, in this order: the size cap; the JWS compact form with exactly one
// signature and an algorithm from the allow-list; the protected header (no "jwk", "jku",
// "x5u", "x5c", "crit" or "b64"; a "typ", when present, of "at+jwt", "application/at+jwt"
// or "JWT"); the signing key from the issuer's JWKS (by "kid", which is required when the
// set holds more than one key; symmetric keys, keys whose "use" is not "sig" and keys whose
// "alg" differs from the token's are never used); the signature; then "iss" (exact), "aud"
// (must contain the audience), "exp" (required), "nbf" and "iat" with leeway, and "sub"
// (required). Every refusal is an [*Error] whose Code and Description are safe to send to
// the client; the cause, for logs, is in Err.
//
// Keys are fetched lazily by the first Verify, so the issuer may start after the gateway.
// When Options.JWKSURL is empty it is discovered once from the issuer's
// /.well-known/openid-configuration, whose "issuer" must equal Options.Issuer exactly and
// whose "jwks_uri" must be https. Every fetch (first, periodic, or for an unknown "kid")
// draws on one rate limiter, so tokens with random key ids cannot make the gateway hammer
// the issuer, and a failed fetch keeps serving the cached keys.
//
// An [IssuerSet] trusts several issuers: it picks the Verifier by the token's "iss" (an
// unlisted issuer is refused without any fetch), so one issuer's keys never verify another's
// tokens; it asks a [RevocationChecker] about every token's jti; and it caches successful
// verifications by the SHA-256 of the raw token (10,000 entries, each for at most 30s and
// never past exp), dropping an entry when its key leaves the JWKS or its jti is revoked.
// Options.RequiredTyp, when set, makes the "typ" header mandatory and exact.
//
// Defaults (a zero Options field means the default):
//
//	Algorithms          ES256, RS256 (HS*, "none" and unknown names are refused)
//	RolesClaim          "roles" (a JSON array of strings or a single string; when no
//	                    top-level claim has that name, a dotted path such as
//	                    "realm_access.roles" is followed through nested objects)
//	Leeway              30s, for exp, nbf and iat
//	MaxTokenBytes       8192
//	MinRefreshInterval  10s between two JWKS fetches
//	RefreshInterval     10m before cached keys are refetched
//	Now                 time.Now
//	Log                 discards
//
// JWKS and discovery responses must be HTTP 200, JSON, at most 1 MiB, and served over https
// (also after redirects). A fetch is bounded by 10s and is not cancelled when the request
// that triggered it is. The discovered JWKS URL is kept for the Verifier's lifetime.
package authn
