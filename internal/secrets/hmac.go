package secrets

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The data key that seals the audit HMAC key, and what the sealed file is bound to.
const (
	hmacPurpose = "audit-hmac"
	hmacAD      = "bulwark/secrets/audit-hmac-key/v1"
)

// Hasher HMACs what audit records must not hold in clear (secret paths), so that records
// about one path can be correlated without revealing it, and a guessed path cannot be
// confirmed without the key. Output is "hmac-sha256:<hex>", as Vault's audit devices write.
type Hasher struct {
	key []byte
}

// NewHasher uses key (at least 32 bytes) directly.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < 32 {
		return nil, errors.New("secrets: audit hmac key shorter than 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// LoadOrCreateHasher reads the HMAC key sealed in path (a file in the state dir), or
// creates a random one and writes it sealed, 0600, when there is none.
func LoadOrCreateHasher(ctx context.Context, path string, s Sealer) (*Hasher, error) {
	sealed, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("secrets: audit hmac key: %w", err)
		}
		ct, err := s.Encrypt(ctx, SealService, hmacPurpose, key, []byte(hmacAD))
		if err != nil {
			return nil, fmt.Errorf("secrets: seal audit hmac key: %w", err)
		}
		if err := keys.WriteSecretFile(path, ct); err != nil {
			return nil, fmt.Errorf("secrets: write audit hmac key: %w", err)
		}
		return NewHasher(key)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: read audit hmac key: %w", err)
	}
	key, err := s.Decrypt(ctx, SealService, hmacPurpose, sealed, []byte(hmacAD))
	if err != nil {
		return nil, fmt.Errorf("secrets: unseal audit hmac key: %w", err)
	}
	return NewHasher(key)
}

// Hash returns the HMAC-SHA256 of s under the key.
func (h *Hasher) Hash(s string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(s))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}

// String keeps the key out of any print.
func (*Hasher) String() string { return "Hasher(redacted)" }
