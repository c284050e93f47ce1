package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The workload CA's and the edge CA's private keys are wrapped by the key manager (package
// envelope), like the OIDC signing key and every other secret Bulwark keeps, so `bulwark
// keys rotate` gives them a new data-key version and the KEK re-wrap job covers them.
// Rotation re-wraps a key; it does not replace the CA or server key itself.
//
// Versions before this one sealed each key directly under the master key (ca/root.key,
// ca/intermediate.key, edge/ca.key, edge/server.key). On first start such a file is read,
// wrapped into its new file (root-key.wrapped, …), and removed only once the new file is
// durable, so a crash at any point leaves a state dir that still opens.

// KeyService names the control plane's data keys in the key manager; the workload CA's
// purposes are KeyPurposeCARoot and KeyPurposeCAIntermediate. The edge keys belong to the
// gateway, which can run on its own with a key manager of its own: they are
// EdgeKeyService's KeyPurposeEdgeCA and KeyPurposeEdgeServer.
const (
	KeyService               = "control"
	KeyPurposeCARoot         = "ca-root"
	KeyPurposeCAIntermediate = "ca-intermediate"

	EdgeKeyService       = "gateway"
	KeyPurposeEdgeCA     = "edge-ca"
	KeyPurposeEdgeServer = "edge-server"
)

// KeyManager encrypts and decrypts with per-service data keys; *envelope.Manager is one.
type KeyManager interface {
	Encrypt(ctx context.Context, service, purpose string, plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ctx context.Context, service, purpose string, ciphertext, associatedData []byte) ([]byte, error)
}

// keySlot is where one private key lives: its wrapped file, and the file earlier versions
// sealed it in.
type keySlot struct {
	role          string // "ca" or "edge": the directory's role, bound into the ciphertext
	wrapped       string // file name of the key manager's ciphertext
	service       string // key manager service
	purpose       string // key manager purpose
	legacy        string // file name of the master-key-sealed file of earlier versions
	legacyPurpose string // the master key purpose of that file
}

var (
	rootKeySlot       = keySlot{role: "ca", wrapped: "root-key.wrapped", service: KeyService, purpose: KeyPurposeCARoot, legacy: rootKeyFile, legacyPurpose: purposeRootKey}
	interKeySlot      = keySlot{role: "ca", wrapped: "intermediate-key.wrapped", service: KeyService, purpose: KeyPurposeCAIntermediate, legacy: interKeyFile, legacyPurpose: purposeInterKey}
	edgeCAKeySlot     = keySlot{role: "edge", wrapped: "ca-key.wrapped", service: EdgeKeyService, purpose: KeyPurposeEdgeCA, legacy: edgeCAKeyFile, legacyPurpose: purposeEdgeCAKey}
	edgeServerKeySlot = keySlot{role: "edge", wrapped: "server-key.wrapped", service: EdgeKeyService, purpose: KeyPurposeEdgeServer, legacy: edgeServerKeyFile, legacyPurpose: purposeEdgeServerKey}
)

// ad binds a ciphertext to its role and file name: a data-key ciphertext of another
// purpose, or this one copied to another slot, does not open.
func (s keySlot) ad() []byte { return []byte(s.role + "/" + s.wrapped) }

// read returns the slot's key from dir and checks that it belongs to cert: from the wrapped
// file, or from a legacy sealed file, which it migrates. A missing key gives an error
// errNotExist recognises; a valid key of another certificate gives errKeyMismatch.
func (s keySlot) read(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	wrappedPath, legacyPath := filepath.Join(dir, s.wrapped), filepath.Join(dir, s.legacy)
	ct, err := os.ReadFile(wrappedPath)
	switch {
	case err == nil:
		der, err := km.Decrypt(ctx, s.service, s.purpose, ct, s.ad())
		if err != nil {
			return nil, fmt.Errorf("%s: the key manager does not open this file (wrong keys, or the file was altered or moved): %w", wrappedPath, err)
		}
		defer clear(der)
		// A crash after the migration wrote the new file but before it removed the old one.
		if err := keys.RemoveDurably(legacyPath); err != nil {
			return nil, fmt.Errorf("remove migrated %s: %w", legacyPath, err)
		}
		return parseKey(wrappedPath, der, cert)
	case !errNotExist(err):
		return nil, err
	}
	key, err := readSealedKey(legacyPath, mk, s.legacyPurpose, cert)
	if errNotExist(err) {
		// Name the file current versions write, not the legacy one.
		return nil, &os.PathError{Op: "open", Path: wrappedPath, Err: os.ErrNotExist}
	}
	if err != nil {
		return nil, err // a mismatched legacy key is a lost pair, like a wrapped one
	}
	if err := s.write(ctx, dir, km, key); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", legacyPath, err)
	}
	return key, nil
}

// write wraps key into the slot's file atomically, syncs the directory so the rename is on
// disk, and only then removes a legacy file, so a crash never leaves the slot without a key.
func (s keySlot) write(ctx context.Context, dir string, km KeyManager, key *ecdsa.PrivateKey) error {
	path := filepath.Join(dir, s.wrapped)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", s.purpose, err)
	}
	defer clear(der)
	ct, err := km.Encrypt(ctx, s.service, s.purpose, der, s.ad())
	if err != nil {
		return fmt.Errorf("wrap %s: %w", path, err)
	}
	if err := keys.WriteSecretFile(path, ct); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := keys.RemoveDurably(filepath.Join(dir, s.legacy)); err != nil {
		return fmt.Errorf("remove migrated %s: %w", s.legacy, err)
	}
	return nil
}

// parseKey parses a PKCS#8 ECDSA key read from path and checks that it belongs to cert.
func parseKey(path string, der []byte, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: parse key: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: key is %T, want ECDSA", path, parsed)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s: %w", path, errKeyMismatch)
	}
	return key, nil
}
