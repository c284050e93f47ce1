// Package oidc is Bulwark's embedded OAuth 2.0 / OpenID Connect provider, built on
// github.com/zitadel/oidc/v3/pkg/op, and the client flows that `bulwark token` uses.
//
// The provider runs in the control plane and is reached only through the gateway, which
// forwards <issuer path>/** unchanged. The issuer is static (never taken from the Host
// header) and must be https. With the issuer https://127.0.0.1:8443/oidc it serves:
//
//	GET       /oidc/.well-known/openid-configuration   discovery
//	GET       /oidc/keys                                JWKS (one ES256 P-256 key)
//	GET       /oidc/authorize                           authorization endpoint (response_type=code only)
//	GET, POST /oidc/login?id=<request>                  login page (server-rendered form, no script, bound to the browser)
//	POST      /oidc/oauth/token                         token endpoint
//	POST      /oidc/revoke                              revocation (refresh and access tokens)
//	POST      /oidc/oauth/introspect                    introspection (authenticated clients)
//	GET, POST /oidc/userinfo                            userinfo
//	GET       /oidc/end_session                         end session (no sessions are kept)
//	GET       /oidc/healthz, /oidc/ready                probes
//
// The token, revocation and introspection endpoints take POST only, and none of them (nor
// userinfo) takes parameters in the query string: 405 or 400 invalid_request, before the
// op sees the request, so secrets, codes and tokens stay out of URLs. Their answers carry
// Cache-Control: no-store and Pragma: no-cache. Userinfo and introspection answer for
// access tokens only (an ID token is inactive there), and introspection names the client
// the token was issued to. No sign-in session is kept, so prompt=none is answered with
// login_required.
//
// The op's /authorize/callback is not served: a successful login POST answers with the
// redirect to the client itself, so an authorization request id alone never yields a code.
// No CORS headers are sent. Discovery lists only what is accepted: response type code,
// response modes query and fragment, grants authorization_code, refresh_token and
// client_credentials, client_secret_basic/post (and none for public clients) at the token
// and revocation endpoints, client_secret_basic at introspection, no request objects
// (request_uri_parameter_supported false) and no device authorization endpoint.
// At /authorize, request_uri is refused (request_uri_not_supported), request too
// (request_not_supported), and any response_mode but query and fragment (invalid_request):
// form_post would need an inline script on the login page, whose CSP allows none.
//
// The login page binds its sign-in to the browser that opened it: the first GET sets a
// cookie __Secure-bulwark-login-<request id> (random, HttpOnly, Secure, SameSite=Lax,
// Path <issuer path>/login, 10 minutes, deleted on success), and the page (GET) and the
// form (POST) are refused (400) without it, so a sign-in cannot be completed from another
// browser or by a cross-site form (login CSRF). A refused POST is audited and checks no
// password. The token, revocation and introspection endpoints take one client
// authentication method per request (RFC 6749 section 2.3.1): HTTP Basic next to
// client_secret or client_assertion in the body, a body client_id naming another client
// than the Basic one, or client_id / client_secret sent twice, is invalid_request.
//
// Grants and rules:
//   - Authorization code with PKCE, code_challenge_method S256 only, for every client:
//     "plain" and a missing code_challenge are refused at /authorize (invalid_request).
//     Redirect URIs match exactly; http is allowed only on loopback and only for public
//     clients. Confidential clients authenticate with client_secret_basic or
//     client_secret_post; public clients have no secret.
//   - Client credentials for confidential clients: sub is the client id, the roles claim
//     holds the client's roles, and scope is the requested scopes (every configured scope
//     when none is asked for); a scope the client is not configured for is refused
//     (invalid_scope). In the code flow, such scopes are dropped.
//   - Refresh tokens (scope offline_access): opaque, 192 bits, kept in memory only as a
//     SHA-256, rotated on every use, valid 8h; lost on restart. Revocable at /revoke, which
//     also revokes every access token issued from the same grant — at the sign-in and at
//     each refresh since, across rotations — that a gateway could still accept (RFC 7009
//     section 2.1), and audits it as one event (kind "token") giving how many. Their jtis
//     are kept with the refresh token, in memory only, until exp + 5m; a grant keeps at most
//     16, and a refresh beyond that is refused (server_error) until the oldest expire.
//   - Replay of a rotated refresh token (RFC 9700 section 4.14.2): a grant remembers the
//     refresh tokens it rotated away (the last 32, as 128 bits of their SHA-256, about
//     1.8 KB per grant, 175 MB at worst for 100,000 grants) until it ends: revoked, or its
//     refresh token expired. One presented again, or twice at once, is refused
//     (invalid_grant) like an unknown token, and revokes its grant: the current refresh
//     token is removed and the grant's live access tokens are revoked as above, audited as
//     one event (kind "token", outcome deny, naming the client) and logged as a warning.
//     The refresh token is removed even when the access tokens cannot be revoked. So a
//     client that retries a refresh whose answer it lost ends its sign-in; and a replay of
//     a token rotated away more than 32 refreshes ago is not detected.
//
// Tokens: access tokens are JWTs signed ES256 with a P-256 key generated on first start and
// kept in <state_dir>/idp/signing.key (PKCS#8, sealed with the master key under the purpose
// "idp/signing.key", 0600); the kid is the key's RFC 7638 thumbprint, so it is the same
// after a restart. Claims: iss (the issuer), sub (user name or client id), aud (the
// configured audience, default "bulwark"), exp (access_token_ttl, default 15m), iat, nbf,
// jti, client_id, scope (space-separated) and the roles claim (roles_claim, default
// "roles", a JSON array). The jti is "<128-bit hex>.<client id>", so that a revocation can
// check the token was issued to the client asking (RFC 7009 section 2.1). Revoking an access
// token puts its jti on a list kept in <state_dir>/idp/revoked.jsonl until the token has
// expired everywhere (issue time bound + access_token_ttl + 5m of clock skew), audits it
// (kind "token"), and wakes the gateways' feeds (package revocation). ID tokens
// live 5m and also carry the audience next to the client id; a verifier that must tell
// them apart can require the "scope" claim, which ID tokens never carry.
//
// Credentials: users' passwords and clients' secrets are checked against argon2id hashes in
// PHC format ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, 128-bit salt, 256-bit hash)
// from password_hash_file / secret_hash_file, or from <state_dir>/idp/credentials.json,
// which EnsureDevCredentials fills for `bulwark up` (the plaintexts go to
// <state_dir>/dev-credentials.json, 0600). A configured hash may ask for at most 64 MiB
// (m=65536), 16 passes and 16 lanes; New refuses a larger one, naming the file.
//
// Every verification, at the login page and at the token endpoint, holds one of
// max(2, 2×GOMAXPROCS) provider-wide slots, so wrong credentials cannot exhaust memory. A
// request that gets no slot within 2s (or whose context ends first) is not checked: the
// token endpoint answers 503 temporarily_unavailable, the login page a 503 page, and the
// attempt counts against no limit.
//
// A wrong user name and a wrong password get the same answer and cost the same argon2id
// verification: unknown users are checked against a dummy hash with the parameters of the
// most expensive configured user hash (largest m×t), unknown clients likewise. A user whose
// hash is cheaper than another's can still be told apart by timing, so New warns when users'
// hashes use different parameters; give them all the same ones.
//
// Limits on guessing: an authorization request allows 5 failed logins (attempts being
// checked count, so concurrent POSTs cannot exceed it) and lives 10 minutes. A user name
// allows 10 failed logins within 15 minutes across all requests; then every attempt for
// it is refused for 15 minutes without hashing, with the same page whether or not the user
// exists. Anyone can so lock a user out; sign-in rate limits belong in front (the gateway).
// At most 10,000 authorization requests are pending; when full, the oldest is dropped, so
// a flood of /authorize cannot refuse new sign-ins (but a fast enough flood still expires
// the sign-ins in progress). Every sign-in decision is audited (kind "authn", component
// "control": success, wrong credentials, locked-out name), naming the user only when it
// exists. A code lives 1 minute and works once. A second use within 10 minutes of the first
// (RFC 6749 section 4.1.2) is refused and revokes what the first issued: the grant's refresh
// token and its live access tokens, or the one access token; audited (kind "token", outcome
// deny) and logged as a warning. At most 100,000 redeemed codes are remembered.
//
// A refresh may ask for fewer scopes: the access token gets those, the new refresh token
// keeps the grant's (RFC 6749 section 6); asking for more is invalid_scope.
package oidc
