package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The signing key is wrapped by the key manager (package envelope), like every other secret
// Bulwark keeps, so `bulwark keys rotate` gives it a new data-key version and the KEK
// re-wrap job covers it. Rotation re-wraps the key; it does not replace the ES256 key
// itself, whose kid stays the same.
//
// Versions before this one sealed the key directly under the master key in signing.key.
// On first start that file is read, wrapped into signing-key.wrapped, and removed only once
// the new file is durable, so a crash at any point leaves a state dir that still opens.
const (
	wrappedKeyFile = "signing-key.wrapped"
	// KeyService and KeyPurposeSigning name the signing key's data key in the key manager.
	KeyService        = "control"
	KeyPurposeSigning = "oidc-signing"
	// wrappedKeyAD binds the wrapped key to its role and file: a data-key ciphertext of
	// another control-plane purpose or file does not open here.
	wrappedKeyAD = "idp/" + wrappedKeyFile
)

// KeyManager encrypts and decrypts with per-service data keys; *envelope.Manager is one.
type KeyManager interface {
	Encrypt(ctx context.Context, service, purpose string, plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ctx context.Context, service, purpose string, ciphertext, associatedData []byte) ([]byte, error)
}

// loadOrCreateSigningKeyDER returns the PKCS#8 signing key of dir: from the wrapped file,
// from a legacy sealed file (migrating it), or newly generated. The caller clears it.
func loadOrCreateSigningKeyDER(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager) ([]byte, error) {
	wrappedPath := filepath.Join(dir, wrappedKeyFile)
	legacyPath := filepath.Join(dir, signingKeyFile)
	wrapped, err := os.ReadFile(wrappedPath)
	switch {
	case err == nil:
		der, err := km.Decrypt(ctx, KeyService, KeyPurposeSigning, wrapped, []byte(wrappedKeyAD))
		if err != nil {
			return nil, fmt.Errorf("%s: the key manager does not open this file (wrong keys, or the file was altered or moved): %w", wrappedPath, err)
		}
		// A crash after the migration wrote the new file but before it removed the old one.
		if err := keys.RemoveDurably(legacyPath); err != nil {
			clear(der)
			return nil, fmt.Errorf("remove migrated %s: %w", legacyPath, err)
		}
		return der, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	der, err := mk.ReadSealedFile(legacyPath, signingKeyPurpose)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if der, err = newSigningKeyDER(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	if err := writeWrappedKey(ctx, wrappedPath, der, km); err != nil {
		clear(der)
		return nil, err
	}
	if err := keys.RemoveDurably(legacyPath); err != nil {
		clear(der)
		return nil, fmt.Errorf("remove migrated %s: %w", legacyPath, err)
	}
	return der, nil
}

func newSigningKeyDER() ([]byte, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	return der, nil
}

// writeWrappedKey wraps der and writes it atomically and durably (keys.WriteSecretFile), so
// the rename is on disk before the caller removes the legacy file.
func writeWrappedKey(ctx context.Context, path string, der []byte, km KeyManager) error {
	ct, err := km.Encrypt(ctx, KeyService, KeyPurposeSigning, der, []byte(wrappedKeyAD))
	if err != nil {
		return fmt.Errorf("wrap signing key: %w", err)
	}
	if err := keys.WriteSecretFile(path, ct); err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	return nil
}
