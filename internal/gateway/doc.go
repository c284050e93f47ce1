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
//   - Timeouts: read header 10s, read 30s, write 60s, idle 120s; shutdown grace 10s.
//   - Limits: request headers 64 KiB; request bodies 1 MiB (413 JSON beyond that).
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
//     client authentication and bearer tokens on its own endpoints).
//   - Audit: every authentication failure and every authorization decision is recorded
//     before the response is sent. When the record cannot be written the request gets 503
//     and nothing is forwarded, unless audit.unsafe_fail_open is set.
//   - Access log: one JSON line per request; query strings, Authorization, Cookie and
//     Set-Cookie are never logged and control characters are stripped from logged strings.
package gateway
