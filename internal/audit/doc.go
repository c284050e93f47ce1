// Package audit records every security decision as one JSON line. This first version
// appends to a local file (0600, in a 0700 directory); a later version makes the log
// tamper-evident. A Recorder that cannot write returns an error, and callers fail closed
// unless the operator set audit.unsafe_fail_open.
//
// # Schema
//
// Every role writes the same Event; README.md "Audit events" is the operator's copy of this
// list. Empty fields are omitted. Always set: time (RFC 3339, UTC), id (128-bit hex, the
// de-duplication key), kind, component, outcome (allow | deny; failure on the follow-up of an
// admin event whose command then failed, with the same request_id). Request events add
// request_id, trace_id, source, method, path, and caller (mesh SPIFFE ID) or user (token
// subject); decisions add reason, rule and policies (would_deny and dry_run for dry-run
// policies). Sensitive values are HMAC-ed, never stored (path_hmac for secret paths); free
// text is masked (Mask). Issuances add resource, serial and expires.
//
// Kinds: authz (every allow and deny of a request, at the edge and in the mesh), authn (a
// refused token or credential), method, source, validation, ratelimit (edge refusals),
// token (issuance at the embedded provider, with the jti only hashed; revocation), secret,
// tokenization, db_credentials, svid (each X.509-SVID minted), key_rotation (package
// keys/envelope, recorded by `bulwark keys`), admin (a state-changing CLI command, with
// the OS user, recorded before it acts), config_change, policy_change.
//
// A successful authentication is not a separate event: the authz event of the same request
// carries the verified subject in user (caller in the mesh) with its outcome, so a request
// is one event and "who was let in" is one query. Only refusals are authn events.
package audit
