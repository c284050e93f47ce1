// Package fieldcrypt encrypts single fields of a service's records with that service's data
// key, so a datastore file, a backup or a stray SELECT shows ciphertext only.
//
// A sealed field is "fc1." followed by the unpadded base64url of an envelope ciphertext
// (package keys/envelope, purpose "fields"). Each one is bound to its service, table,
// column and record id (the associated data), so a value copied to another row, column or
// service does not open: an attacker with write access to the database cannot move alice's
// national id into their own record and have the service decrypt it for them.
//
// The service never holds key material. Keys is what a service encrypts with; it is
// implemented by Local (the key manager in the same process, for the control plane itself
// and tests) and Client (the control plane's /v1/keys API, reached through the service's
// sidecar, which authenticates the service with its SVID); both also implement BatchKeys,
// with which Fields.SealAll and OpenAll do all the fields of a record in one call — one
// round trip instead of one per field — each field still bound to its own column and
// record. Handler serves that API: the
// service whose key is used is always the authenticated caller, never a request field, so
// one service cannot ask for another's data key.
package fieldcrypt
