// Package metrics exposes Prometheus metrics for each Bulwark role (the gateway, each
// sidecar, the control plane) on a plaintext listener that binds loopback only and serves
// nothing but /metrics and /healthz.
//
// Every role has its own Registry, never the client library's global default, so that
// `bulwark up` (every role in one process) serves one endpoint per role and tests can run
// several side by side. Label values are bounded by the configuration: the route label is a
// route's configured pattern (never the request's path), upstreams and issuers are the
// configured ones, and no label ever holds a token, a user, a path with ids or a secret.
//
// All names carry the bulwark_ prefix and base units (_seconds, _bytes), counters end in
// _total. Gauges that describe current state (SVID expiry, audit queue and spool depth,
// revocation feed failures) are computed when Prometheus scrapes, from the live object.
package metrics
