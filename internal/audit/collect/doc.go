// Package collect is the audit collector: the control plane's end of durable delivery.
// Roles spool their events locally (package spool) and ship batches here, over mTLS
// (POST /v1/audit/events) or through a NATS JetStream stream; the collector checks each
// event against the sender's SPIFFE ID, drops events it already holds (by event id),
// appends the rest to the tamper-evident log (package auditlog) and acknowledges only
// once that append is durable.
//
// # Provenance
//
// A role reports only its own decisions: the gateway's SPIFFE ID may send events whose
// component is "gateway", a service's ID only "sidecar/<service>". The collector refuses
// any other component, any event that already names a reporter, and any caller that is
// not a SPIFFE ID of the trust domain (a sidecar sees only callers whose SVID chains to
// the bundle), then stamps "reporter": <sender's SPIFFE ID> into the stored record. So a
// compromised sidecar cannot write the gateway's events, and every stored event says who
// delivered it — the component alone is a claim; the reporter is authenticated.
//
// # De-duplication
//
// Delivery is at-least-once, so the same event can arrive twice (a lost ack, a restart
// of either side). The collector keeps an index of every event id in the log, rebuilt
// from the log when it starts (the log is the only source of truth, so a crash cannot
// leave the two apart), and appends an event only when its id is new. Ids in flight are
// reserved, so two concurrent deliveries of one event append it once.
package collect
