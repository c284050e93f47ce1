// Package tokenize is the control plane's token vault: it replaces a card number or a
// national id with a random token and keeps the value, encrypted, in a lookup table.
//
// A token is "tok_<kind>_" and 130 random bits (crypto/rand, base32), plus "_" and the
// value's last four digits when tokenization.keep_last4 names the kind. It says nothing
// else about the value: tokens are random, not format-preserving encryption, so no key
// can turn one back into a value — only this table can, and only for a caller that holds a
// detokenize grant. Everything else (payments' database, logs, the apps) keeps tokens.
//
// Tokenization is deterministic per kind: the same value gets the same token, found
// through an HMAC-SHA256 of the normalized value. That lets a service recognise a card it
// has seen (one row per card, not per registration) without ever holding the number. The
// price, that equal tokens reveal equal values, is small because tokens never leave the
// caller who gave the value. The HMAC key is 256 random bits stored wrapped by the key
// manager, so the lookup column of a stolen table cannot be brute-forced over the card
// number space, and the clear values are envelope-encrypted (service "control", purpose
// "tokens") with the token as associated data, so a ciphertext moved to another row does
// not open.
//
// Every tokenize and detokenize decision is audited (kind "tokenization"); the token and
// the value are never in the event, log line or error.
package tokenize
