// Package secrets is Bulwark's secret store: versioned key/value secrets with metadata,
// check-and-set writes, soft delete, undelete and destroy, behind one Backend interface
// with two implementations, chosen by bulwark.yaml (secrets.backend):
//
//   - Embedded (the default): a SQLite file in the state dir. Every value is encrypted by
//     the envelope key manager (service "control", purpose "secrets") with the secret's
//     path and version as associated data, so a row copied to another path or version
//     does not decrypt.
//   - Vault: HashiCorp Vault's (or OpenBao's) KV version 2 engine, over its HTTP API.
//
// The store is served by the control plane over mTLS (API): the caller is the SPIFFE ID
// of its SVID, and Grants (services[].secrets in bulwark.yaml) say which paths it may
// read, write or list; everything else is denied. Every request is audited, allow and
// deny, with the secret path HMAC-ed under a key sealed in the state dir (as Vault's audit
// devices do), so audit readers can correlate requests for one path without learning it.
// Values and clear paths never reach a log, an audit record or an error message.
package secrets
