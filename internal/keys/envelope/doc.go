// Package envelope is Bulwark's key manager: envelope encryption with versioned keys.
//
// Three layers, each wrapping the next:
//
//   - the master key (a tink.AEAD: the 32-byte file of package keys, FileMaster, or a
//     HashiCorp Vault / OpenBao Transit key, VaultTransit) wraps
//   - the key-encryption keys (KEK): one tink keyset of AES-256-GCM keys, one key per
//     version, in <keys>/kek.json, which wrap
//   - the data keys: one tink keyset per service and purpose, in
//     <keys>/data/<service>/<purpose>.json, which encrypt the data.
//
// Key material is on disk only in wrapped form, in 0600 files in 0700 directories. Every
// wrap binds what is wrapped: the KEK keyset and its version list are bound to "kek", a
// data keyset and its metadata to its service, purpose and KEK version, so a wrapped key
// copied to another name does not open.
//
// Encrypt binds each ciphertext to its service, purpose and the caller's associated data
// (a record id), so a ciphertext moved to another record, purpose or service does not
// decrypt. Ciphertexts carry the data key's id (the tink output prefix), so rotation adds
// a version without touching existing data: old ciphertexts decrypt with their version,
// new ones use the primary. Rewrap re-encrypts data keys under the newest KEK, one atomic
// file at a time, so readers never stop and a crash leaves every file readable; once no
// data key is wrapped under an old KEK version, that version can be retired (disabled).
//
// The master key is used only when kek.json is read or written (at open, on a KEK
// rotation or rewrap, when a data key is created), never per Encrypt or Decrypt, so a
// Transit key costs no request on the data path. A master that cannot be reached gives
// ErrMasterUnavailable, naming the server and why, never ErrUnwrap: Vault being down does
// not read as a tampered file. Rotating the Transit key and then the KEK (RotateKEK)
// re-wraps kek.json under the Transit key's newest version.
//
// A refused rotation or retirement wraps a sentinel error (ErrNoDataKey, ErrNoKEKVersion,
// ErrKEKPrimary, ErrKEKRetired, ErrKEKInUse, ErrInvalidName), so a caller can say what was
// refused without quoting the error.
//
// Every change is an Event for the audit log, handed to Options.OnEvent or to a hook
// attached later with SetOnEvent: a process that opens its keys before the audit log that
// records them (whose own key the manager wraps) attaches the log once it is open, and the
// events held until then are delivered first, in order (hook.go).
//
// Writers in several processes are serialised by an flock on <keys>/lock, and each writer
// re-reads the files under the lock, so no rotation is lost. A process notices keys another
// process rotated within Options.RefreshInterval (one second by default) for encryption,
// and at once for decryption of a ciphertext under a version it has not seen.
package envelope
