// Package spool is a role's local, durable queue of audit events: the gateway and each
// sidecar append their events here and a shipper (package ship) delivers them to the
// collector. The request path waits on the local disk only, never on the collector.
//
// # Files
//
// A spool is a directory (0700) of segment files, <seq>.seg, each a run of records
// framed as [length uint32][CRC-32C uint32][event JSON], and one file, "acked", naming
// the first record the collector has not yet acknowledged (segment and offset). Segments
// before it are deleted; a crash between an acknowledgement and the write of "acked" only
// re-sends a batch, which the collector de-duplicates by event id.
//
// # Durability and bound
//
// Append returns once its records are fsynced; concurrent callers share one write and
// one fsync (group commit). A record torn by a crash fails its CRC or is short, and Open
// cuts it, loudly: it was never acknowledged to anyone. The bytes not yet acknowledged by
// the collector are bounded by Options.MaxBytes; past it Append returns ErrFull, and the
// role fails closed (503) or, with audit.unsafe_fail_open, lets the request through
// unaudited. Both transitions, into and out of full, are logged.
package spool
