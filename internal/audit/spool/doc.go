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
// Record returns once its event is written to the segment file (Options.Durability
// DurabilityWrite, audit.durability: write, the roles' default: the event survives the
// process being killed) or once it is fsynced (DurabilityFsync, the zero value); Append
// always waits for the fsync. Concurrent callers share one write, done by one of them
// (group commit, no writer goroutine), and the fsync follows at once in a background
// goroutine, shared by every batch written since the previous one. Peek hands the
// shipper only fsynced records, so an acknowledgement never points past what a power
// loss could remove; Open fsyncs what a killed process left before handing it out. A
// rolled-away segment is fsynced to its end and closed by that goroutine only, after its
// last fsync. A failed write is cut back; a failed fsync makes the spool refuse every
// later append, loudly, until it is reopened. Close writes and fsyncs everything recorded
// before it. A record torn by a crash fails its CRC or is short, and Open cuts it,
// loudly: it was never delivered. The bytes not yet acknowledged by the collector are
// bounded by Options.MaxBytes; past it Record and Append return ErrFull, and the role fails closed
// (503) or, with audit.unsafe_fail_open, lets the request through unaudited. Both
// transitions, into and out of full, are logged.
package spool
