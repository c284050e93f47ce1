// Package proxy is the engine the gateway and the sidecars share: the identity headers and
// who may set them, JSON error responses with request ids, request-id and canonical-path
// handling, and a reverse proxy to a peer sidecar over mTLS that verifies the peer's SPIFFE
// ID. The gateway and the sidecar differ only in the middleware they put around it.
package proxy
