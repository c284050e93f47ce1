// Package siem streams the audit log to a SIEM: as JSON lines over HTTPS POST, and as
// syslog (RFC 5424) over TLS with RFC 5425 octet-counting framing.
//
// # Delivery
//
// An Exporter tails the audit events file (the tamper-evident log of package auditlog, or
// a role's plain JSON-lines file) as a consumer: it reads complete lines only, never takes
// the writer's lock and never changes the log. After a batch is acknowledged it records its
// position (byte offset, record count and the SHA-256 of the last record sent) in a
// position file next to the log, written atomically (0600). A restart resumes from there,
// so delivery is at-least-once: a crash between the acknowledgement and the position write
// sends that batch again, and receivers de-duplicate by the event's "id".
//
// If the log at the recorded position no longer holds the record that was sent last (the
// log was truncated or rewritten), the exporter stops sending and says so rather than
// guessing where to resume; `bulwark audit verify` tells what happened, and deleting the
// position file restarts the export from the first record.
//
// # Transports
//
// HTTPS: each batch is one POST whose body is the records, one JSON object per line, byte
// for byte as stored (Content-Type application/x-ndjson). Any 2xx acknowledges the batch;
// anything else, or a transport error, is retried with exponential backoff (capped), forever:
// nothing is skipped. The server certificate is verified against the configured CA (or the
// system roots); an optional bearer token is read from a file before each batch, so it can
// be rotated without a restart and never appears in the config.
//
// Syslog: each record is one RFC 5424 message, framed "MSG-LEN SP SYSLOG-MSG" (RFC 5425
// §4.3), with PRI from the event (facility 13, log audit; severity warning for a deny,
// notice for an allowed change of state, informational otherwise), MSGID the event kind,
// the event's fields as the structured-data element [bulwark@32473 ...] and the event's
// JSON as MSG. RFC 5425 has no application-level acknowledgement: a batch counts as
// delivered once TLS accepted every byte of it. A receiver that fails after that loses what
// was in flight; when that matters use the HTTPS exporter, which waits for a 2xx.
package siem
