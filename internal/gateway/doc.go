// Package gateway is Bulwark's edge: the single HTTPS entry point in front of the mesh. It
// terminates client TLS, gives every request a fresh id, logs it, hardens the response,
// refuses ambiguous paths, routes by path, verifies the caller's access token, applies the
// route's role and scope requirements, audits every decision and forwards the request to the
// target service's sidecar over mutual TLS, presenting the gateway's own SPIFFE ID.
//
// The middleware chain is assembled in chain.go, in the order it runs.
//
// Defaults (not configurable, on purpose):
//
//   - TLS: minimum TLS 1.2, TLS 1.3 preferred (Go negotiates the highest common version).
//     TLS 1.2 only with ECDHE key exchange and AEAD ciphers: ECDHE-ECDSA and ECDHE-RSA with
//     AES-128-GCM, AES-256-GCM or CHACHA20-POLY1305. HTTP/2 and HTTP/1.1 via ALPN.
//   - Timeouts and limits (limits.go, gateway.limits): read header 10s, read 30s, write
//     60s, idle 120s; request line and headers 64 KiB (431 JSON), request target 8 KiB (414
//     JSON), bodies 1 MiB or the route's max_body_bytes (413 JSON), 100 concurrent HTTP/2
//     streams per connection. Shutdown grace 10s.
//   - Paths: non-canonical spellings are refused (proxy.CanonicalPath); routes with
//     case_insensitive are matched on, and forward, the lower-cased path (pathcase.go).
//   - Upstreams (upstream.go, proxy.NewUpstream; a sidecar's calls get the same): per
//     service, services[].resilience sets a whole-request timeout (default 10s; 504 JSON),
//     retries of bodiless idempotent requests after connection errors, 502 or 503 (default
//     2, jittered backoff, a budget of 20% of the last 10s of requests plus 10), a cap on
//     requests in flight (default 256; 503 JSON at once, never queued) and a circuit
//     breaker (opens when half of at least 20 recent requests failed — errors, timeouts,
//     5xx, not 4xx —, answers 503 JSON with Retry-After, half-opens after 10s; each state
//     change is logged once). The control plane's upstream uses the defaults.
//   - Load: at most gateway.rate_limit.max_in_flight requests (default 1024) are served at
//     once; one more gets 503 JSON with Retry-After: 1, without queueing.
//   - Rate limits (ratelimit.go): routes with rate_limit get a token bucket per key (IP,
//     token subject or client), checked after authentication and before authorization.
//     Over the limit: 429 JSON (code rate_limited) with Retry-After, audited as kind
//     "ratelimit". Responses on limited routes carry RateLimit-Limit, RateLimit-Remaining
//     and RateLimit-Reset. With the Redis backend an unreachable Redis falls back to local
//     buckets, or with on_redis_error: deny fails closed with 429 and Retry-After; never a 5xx.
//   - Route guards (guard.go, openapi.go): after routing, a route's ips lists (403,
//     TCP peer address only, deny wins), CORS (preflights answered without a token) and
//     methods list (405 with Allow). Every route refuses methods outside GET, HEAD, POST,
//     PUT, PATCH, DELETE and OPTIONS in upper case (405) and method override headers such
//     as X-HTTP-Method-Override (400). After authorization, the route's OpenAPI 3.0 document
//     (kin-openapi): 400 invalid_request naming the rule, never the value, with the
//     exact validated bytes forwarded. Refusals are audited (kinds "source", "method",
//     "validation").
//   - Response headers on every response: Strict-Transport-Security (two years,
//     includeSubDomains), X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
//     Referrer-Policy: no-referrer and a Content-Security-Policy that allows nothing (the
//     embedded identity provider's /oidc pages may also use inline styles and post forms to
//     themselves). Errors carry Cache-Control: no-store. Upstream Server and X-Powered-By
//     headers are removed.
//   - Identity: every X-Bulwark-* header a client sends is dropped in any spelling; the
//     gateway sets X-Bulwark-User, X-Bulwark-Roles and X-Bulwark-Scopes from the verified
//     token, and sidecars trust them only from the gateway's SPIFFE ID. The Authorization
//     header is not forwarded to services (it is to the identity provider, which needs
//     client authentication and bearer tokens on its own endpoints). A token sent twice
//     (two Authorization headers, or an access_token query parameter) is refused.
//     Headers that name the client's address or the original URL (X-Forwarded-*,
//     Forwarded, X-Real-IP, True-Client-IP, X-Original-URL…) are dropped in any spelling;
//     services get the gateway's X-Forwarded-For.
//   - Audit: every authentication failure and every authorization decision is recorded
//     before the response is sent. When the record cannot be written the request gets 503
//     and nothing is forwarded, unless audit.unsafe_fail_open is set.
//   - Access log: one JSON line per request; query strings, Authorization, Cookie and
//     Set-Cookie are never logged and control characters are stripped from logged strings.
package gateway
