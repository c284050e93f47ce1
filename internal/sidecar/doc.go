// Package sidecar is `bulwark sidecar`: the hop in front of one service. It has two sides.
//
// # Inbound (peer sidecars and the gateway → this service's app)
//
// The sidecar listens on TCP with TLS 1.3 only and requires a client X.509-SVID that chains
// to the trust bundle, belongs to the configured trust domain and passes the SVID leaf
// checks (identity.CheckLeaf: not a CA, digitalSignature, exactly one URI SAN). All of this
// happens in the handshake and fails closed: a client without a valid SVID of the trust
// domain never gets to send a request. Every request that does arrive then goes through the
// chain assembled in chain.go, in this order:
//
//  1. request id: a well-formed X-Request-Id from the authenticated peer is kept, otherwise
//     a fresh one is made; it is echoed on the response and sent to the app.
//  2. recover: a panic becomes a JSON 500 (code "internal").
//  3. canonical path: a path with dot segments, doubled slashes, encoded slashes or dots,
//     backslashes or control characters is refused with a JSON 400 (code "bad_request"),
//     so policy and the app always read the same path.
//  4. methods: a method outside GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS in upper
//     case (TRACE, CONNECT, WebDAV, "delete") is refused with a JSON 405 (code
//     "method_not_allowed") and an Allow header, and a method override header
//     (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, in any spelling) with a
//     JSON 400 (code "bad_request"), even under an allow rule on "*". Each refusal is an
//     audit event (kind "method"); when it cannot be recorded the request gets 503 as in 5.
//  5. authorize: the caller's SPIFFE ID is taken from the verified peer certificate and the
//     service's allow rules (bulwark.yaml services[].allow) decide on caller, method and
//     path, deny by default. Every decision, allow and deny, is recorded as an audit event
//     (kind "authz", component "sidecar/<service>"). When the event cannot be recorded the
//     request is refused with a JSON 503 (code "unavailable") unless audit.unsafe_fail_open
//     is set. A deny is a JSON 403 (code "forbidden").
//  6. proxy to the app over its unix socket (or its loopback http upstream), with the
//     identity headers rewritten as below.
//
// # Identity headers the app receives
//
// After hop-by-hop headers are removed (so a client's "Connection: X-Bulwark-Caller" cannot
// remove what the sidecar sets), every header that is or may be read as an identity header
// (any "X-Bulwark-" prefix, in any case, "_" or "-") is deleted, then:
//
//   - X-Bulwark-Caller: the SPIFFE ID of the verified caller, always.
//   - X-Bulwark-User, X-Bulwark-Roles, X-Bulwark-Scopes: copied from the request only when
//     the caller is the gateway (spiffe://<trust_domain>/svc/gateway), which set them from a
//     verified access token; from any other caller they never reach the app.
//   - X-Request-Id: the request id of step 1.
//   - X-Forwarded-For, X-Forwarded-Proto: the gateway's, when the caller is the gateway.
//     Every other header that names the client's address or the original URL
//     (X-Forwarded-*, Forwarded, X-Real-IP, True-Client-IP, X-Original-URL…, any
//     spelling: proxy.StripForwardingHeaders) is dropped.
//
// Other headers, Authorization included, pass through unchanged.
//
// # Outbound (this service's app → other services)
//
// When Options.Outbound is set, the sidecar serves plain HTTP on that unix socket, which
// only the app can reach; there is no TCP outbound listener. The app calls
// http://<service>/<path>: the target is the Host header without its port. An unknown
// service is a JSON 404 (code "not_found"); a known one with no peer address is a JSON 502.
// Identity headers from the app are stripped (X-Request-Id is kept), and the request goes to
// the target's sidecar over mTLS, presenting this service's SVID and accepting only the
// target's exact SPIFFE ID: any other server identity fails the handshake and the app gets
// a JSON 502 (code "bad_gateway"). Calls to a service get its services[].resilience, as
// the gateway's do (proxy.NewUpstream), counted per sidecar: a whole-request timeout (JSON
// 504), retries of bodiless idempotent requests after a connection error, 502 or 503, a cap
// on requests in flight and a circuit breaker (both JSON 503 with Retry-After, at once and
// without reaching the target; code "unavailable"). Breaker state changes are logged and,
// with Options.Metrics, counted. Calls to the control plane (http://bulwark/v1/…) get the
// defaults. One peer per target is built in New and reused; a reload (Prepare) rebuilds
// only the peers whose resilience changed.
//
// # Lifecycle
//
// Run serves both sides until its context is done, then shuts down gracefully, waiting at
// most ShutdownTimeout for in-flight requests. The SVID source is read per handshake, so a
// rotating workloadapi.X509Source needs no restart.
package sidecar
