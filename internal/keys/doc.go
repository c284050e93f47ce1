// Package keys holds the master key that encrypts Bulwark's key material at rest, and the
// file rules for anything secret: files 0600, written atomically, in directories that only
// their owner can write to. Directories Bulwark creates are 0700; an existing directory is
// never chmod-ed (it may be /run or the working directory), and one that group or others can
// write to is refused.
//
// The master key is 32 random bytes in a file (BULWARK_MASTER_KEY_FILE, or
// <state_dir>/master.key created by `bulwark up`). It is created exclusively and never
// replaced, so two processes starting on a fresh state directory end with the same key.
// Seal and Open use AES-256-GCM with a random 96-bit nonce and associated data that names
// what the ciphertext is (for example "ca/intermediate.key"), so a sealed blob cannot be
// moved to another purpose.
package keys
