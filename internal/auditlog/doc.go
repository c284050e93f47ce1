// Package auditlog is Bulwark's tamper-evident audit log: an append-only file of audit
// events in which every event is a leaf of an RFC 6962 Merkle tree and a link of a hash
// chain, with Ed25519-signed checkpoints (tree size and root hash) in the signed-note
// format of golang.org/x/mod/sumdb/note.
//
// # Files
//
// For a log at <dir>/events.jsonl (the default under <state_dir>/audit/):
//
//	events.jsonl        the events, one canonical JSON object per line: the Merkle leaves.
//	                    Still plain JSON lines, so grep, jq and existing readers work.
//	events.chain        40 bytes per event: the end offset of its line (big-endian uint64)
//	                    and chain_i = SHA-256(chain_i-1 || leaf hash_i), chain_-1 = 32 zeros.
//	                    It pins each event's position and lets verify name the first bad one.
//	events.checkpoint   the latest signed checkpoint.
//	events.checkpoints  every checkpoint published, oldest first (for consistency proofs).
//	events.tree         the compact Merkle range at the latest checkpoint, so that opening
//	                    the log reads only the events after it. It is checked against the
//	                    signed root and rebuilt from the events when it does not match.
//	checkpoint-signer-key.wrapped  the Ed25519 note signing key, wrapped by the key manager
//	                    (Options.Keys: service "control", purpose "audit-checkpoint"). The
//	                    checkpoint-signer.key of earlier versions, sealed with the master key,
//	                    is migrated on Open (signer.go).
//	checkpoint-signer.pub  the note verifier key, in the clear: give it to auditors. When
//	                    it is missing (a crash right after the signing key was written), Open
//	                    writes it again from the signing key, with a warning; a verifier key
//	                    without its signing key is refused.
//
// Every file is 0600 in a 0700 directory.
//
// # Writing
//
// Append takes a batch of events and returns once they are on disk (fsync). Concurrent
// callers share one write per batch and one fsync per run of batches (group commit, done
// in the callers' goroutines; a background goroutine fsyncs), so throughput grows with
// concurrency while each caller still gets "durable or error": an authorization that could
// not be audited can fail closed. Record does the same for one event, or, with
// Options.Durability audit.DurabilityWrite, returns once the event is written (the kernel
// holds it: a kill of the process loses nothing) and leaves the fsync to the background;
// checkpoints sign only fsynced records either way. One process at a time may write a log
// (flock).
//
// A checkpoint is signed every CheckpointInterval by Run and once more by Close. Records
// after the latest checkpoint that were torn by a crash are cut at the next Open, loudly;
// a record that a checkpoint covers is never cut: if one is missing or changed, Open refuses
// the log and `bulwark audit verify` says where.
//
// # What a checkpoint proves
//
// A checkpoint binds the first N events. Anyone holding the verifier key can check the
// whole log against it (Verify), check that one event is in the log (inclusion proof) and
// that a later checkpoint extends an earlier one (consistency proof), using any RFC 6962
// implementation. Someone able to rewrite the state directory could also rewrite the
// checkpoints, so checkpoints can be copied to a witness directory on other storage;
// Verify then compares both.
package auditlog
