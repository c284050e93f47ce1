// Package keys holds the master key that encrypts Bulwark's key material at rest, and the
// file rules for anything secret: files 0600 in directories 0700, written atomically.
//
// The master key is 32 random bytes in a file (BULWARK_MASTER_KEY_FILE, or
// <state_dir>/master.key created by `bulwark up`). Seal and Open use AES-256-GCM with a
// random 96-bit nonce and associated data that names what the ciphertext is (for example
// "ca/intermediate.key"), so a sealed blob cannot be moved to another purpose.
package keys
