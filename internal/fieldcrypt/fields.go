package fieldcrypt

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Purpose is the key manager purpose of field encryption: one data key per service for all
// its fields, separate from its other keys.
const Purpose = "fields"

// sealedPrefix starts every sealed field; it names the format so a later one can coexist.
const sealedPrefix = "fc1."

// ErrNotSealed is returned by Open for a value that is not a sealed field.
var ErrNotSealed = errors.New("fieldcrypt: value is not a sealed field")

// Keys encrypts and decrypts with the data key of the service that uses it, for a purpose.
type Keys interface {
	Encrypt(ctx context.Context, purpose string, plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ctx context.Context, purpose string, ciphertext, associatedData []byte) ([]byte, error)
}

// Fields seals and opens the fields of one service's records.
type Fields struct {
	Keys Keys
}

// Seal encrypts value, the column of the row recordID of table.
func (f Fields) Seal(ctx context.Context, table, column, recordID, value string) (string, error) {
	ct, err := f.Keys.Encrypt(ctx, Purpose, []byte(value), fieldAD(table, column, recordID))
	if err != nil {
		return "", fmt.Errorf("seal %s.%s: %w", table, column, err)
	}
	return sealedPrefix + b64.EncodeToString(ct), nil
}

// b64 is the encoding of a sealed field's ciphertext.
var b64 = base64.RawURLEncoding

// parseSealed returns the ciphertext of a sealed field, or ErrNotSealed.
func parseSealed(sealed string) ([]byte, error) {
	enc, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, ErrNotSealed
	}
	ct, err := b64.DecodeString(enc)
	if err != nil {
		return nil, ErrNotSealed
	}
	return ct, nil
}

// Open decrypts a value Seal returned for the same table, column and record id.
func (f Fields) Open(ctx context.Context, table, column, recordID, sealed string) (string, error) {
	ct, err := parseSealed(sealed)
	if err != nil {
		return "", fmt.Errorf("open %s.%s: %w", table, column, err)
	}
	pt, err := f.Keys.Decrypt(ctx, Purpose, ct, fieldAD(table, column, recordID))
	if err != nil {
		return "", fmt.Errorf("open %s.%s: %w", table, column, err)
	}
	return string(pt), nil
}

// IsSealed reports whether s looks like a sealed field (a migration uses it to find the
// clear values an older version wrote).
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// fieldAD is the associated data of a field: each part length-prefixed, so no two
// different (table, column, id) give the same bytes. The service is bound by the key
// manager itself.
func fieldAD(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}
