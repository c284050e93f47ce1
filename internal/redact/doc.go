// Package redact masks sensitive data in text, log records and audit records: card numbers
// (runs of 13–19 digits, single spaces or dashes allowed between groups, that pass the Luhn
// check and start like a payment card, 2–6), national identifiers (US SSN shape, optionally
// behind a two-letter country prefix, like the bank's "ZZ-123-45-6789"), e-mail addresses,
// bearer credentials and JWTs, and the values of secret-bearing keys (password, secret,
// token, authorization, cookie, key, credential, session …) whether they are slog attribute
// keys, JSON object keys or key=value pairs in a string.
//
// NewHandler wraps any slog.Handler so every component's logs go through it; String is the
// same masking for audit records and error text. Masking is deliberately over-eager: a
// 16-digit order number that happens to pass Luhn is masked too, because a log line that
// loses a harmless number costs less than one that keeps a card number.
//
// What replaces a value is fixed and says what was there, never a part of it that could
// help guess the rest, except a card's last four digits (PCI DSS allows them in clear):
// "[card ****4242]", "[national-id]", "[email]", "[redacted]".
package redact
