package auditlog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// The checkpoint signing key is wrapped by the key manager (package envelope), like every
// other secret Bulwark keeps, so `bulwark keys rotate` gives it a new data-key version and
// the KEK re-wrap job covers it. Rotation re-wraps the key; it does not replace the Ed25519
// key, so the verifier key auditors hold stays valid.
//
// Versions before this one sealed the key directly under the master key in
// checkpoint-signer.key. On first open that file is read, checked against the verifier key,
// wrapped into checkpoint-signer-key.wrapped, and removed only once the new file is durable,
// so a crash at any point leaves a log that still opens.
const (
	signerWrappedFile = "checkpoint-signer-key.wrapped"
	signerPubFile     = "checkpoint-signer.pub"
	// The key as versions before the key manager sealed it.
	legacySignerKeyFile = "checkpoint-signer.key"
	legacySignerPurpose = "audit/checkpoint-signer.key"

	// KeyService and KeyPurposeCheckpoint name the signing key's data key in the key
	// manager: the audit log belongs to the control plane.
	KeyService           = "control"
	KeyPurposeCheckpoint = "audit-checkpoint"
	// signerAD binds the wrapped key to its role and file: a data-key ciphertext of another
	// control-plane purpose or file does not open here.
	signerAD = "audit/" + signerWrappedFile
)

// KeyManager encrypts and decrypts with per-service data keys; *envelope.Manager is one.
type KeyManager interface {
	Encrypt(ctx context.Context, service, purpose string, plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ctx context.Context, service, purpose string, ciphertext, associatedData []byte) ([]byte, error)
}

// loadOrCreateSigner returns the directory's checkpoint signer, creating an Ed25519 note
// key named o.Origin on first use, wrapped by o.Keys; the verifier key is written in the
// clear next to it. A legacy key sealed with o.MasterKey is migrated. A key without its
// verifier, or the reverse, is refused rather than replaced: replacing it would orphan
// every checkpoint it signed.
func loadOrCreateSigner(dir string, o Options) (note.Signer, note.Verifier, error) {
	if o.Keys == nil {
		return nil, nil, errors.New("auditlog: no key manager (Options.Keys): it wraps the checkpoint signing key")
	}
	ctx := context.Background() // Open has none; the key manager's lock wait is short
	wrappedPath, legacyPath := filepath.Join(dir, signerWrappedFile), filepath.Join(dir, legacySignerKeyFile)
	pubPath := filepath.Join(dir, signerPubFile)
	hasWrapped, err := exists(wrappedPath)
	if err != nil {
		return nil, nil, err
	}
	hasLegacy, err := exists(legacyPath)
	if err != nil {
		return nil, nil, err
	}
	hasPub, err := exists(pubPath)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !hasWrapped && !hasLegacy && !hasPub:
		return createSigner(ctx, wrappedPath, pubPath, o)
	case !hasWrapped && !hasLegacy:
		return nil, nil, fmt.Errorf("%s exists but %s is missing: restore it from a backup (checkpoints signed with it cannot be verified otherwise)", pubPath, wrappedPath)
	case !hasPub:
		key := wrappedPath
		if !hasWrapped {
			key = legacyPath
		}
		return nil, nil, fmt.Errorf("%s exists but %s is missing: restore it from a backup", key, pubPath)
	}
	var skey []byte
	if hasWrapped {
		skey, err = readWrappedSigner(ctx, wrappedPath, o.Keys)
	} else {
		skey, err = readLegacySigner(legacyPath, o.MasterKey)
	}
	if err != nil {
		return nil, nil, err
	}
	defer clear(skey)
	keyPath := wrappedPath
	if !hasWrapped {
		keyPath = legacyPath
	}
	s, err := note.NewSigner(string(skey))
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint key %s: %w", keyPath, err)
	}
	v, err := LoadVerifier(pubPath)
	if err != nil {
		return nil, nil, err
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		return nil, nil, fmt.Errorf("%s does not match %s", pubPath, keyPath)
	}
	if !hasWrapped {
		// Migrate only a key that matches its verifier: wrap it, then remove the old file.
		if err := writeWrappedSigner(ctx, wrappedPath, skey, o.Keys); err != nil {
			return nil, nil, fmt.Errorf("migrate %s: %w", legacyPath, err)
		}
	}
	// Also finishes a migration that a crash cut short after the wrapped file was written.
	if err := keys.RemoveDurably(legacyPath); err != nil {
		return nil, nil, fmt.Errorf("remove migrated %s: %w", legacyPath, err)
	}
	return s, v, nil
}

// createSigner makes a new key, wraps it, and writes the verifier key after it.
func createSigner(ctx context.Context, wrappedPath, pubPath string, o Options) (note.Signer, note.Verifier, error) {
	skey, vkey, err := note.GenerateKey(rand.Reader, o.Origin)
	if err != nil {
		return nil, nil, fmt.Errorf("generate checkpoint key: %w", err)
	}
	if err := writeWrappedSigner(ctx, wrappedPath, []byte(skey), o.Keys); err != nil {
		return nil, nil, err
	}
	if err := keys.WriteSecretFile(pubPath, []byte(vkey+"\n")); err != nil {
		return nil, nil, fmt.Errorf("write checkpoint verifier key: %w", err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	return s, v, nil
}

func readWrappedSigner(ctx context.Context, path string, km KeyManager) ([]byte, error) {
	ct, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	skey, err := km.Decrypt(ctx, KeyService, KeyPurposeCheckpoint, ct, []byte(signerAD))
	if err != nil {
		return nil, fmt.Errorf("%s: the key manager does not open this file (wrong keys, or the file was altered or moved): %w", path, err)
	}
	return skey, nil
}

func readLegacySigner(path string, mk *keys.MasterKey) ([]byte, error) {
	if mk == nil {
		return nil, fmt.Errorf("%s: sealed with the master key by an earlier version, and no master key was given to migrate it", path)
	}
	skey, err := mk.ReadSealedFile(path, legacySignerPurpose)
	if err != nil {
		return nil, fmt.Errorf("checkpoint key: %w", err)
	}
	return skey, nil
}

// writeWrappedSigner wraps skey and writes it atomically and durably (keys.WriteSecretFile),
// so the rename is on disk before a legacy file is removed.
func writeWrappedSigner(ctx context.Context, path string, skey []byte, km KeyManager) error {
	ct, err := km.Encrypt(ctx, KeyService, KeyPurposeCheckpoint, skey, []byte(signerAD))
	if err != nil {
		return fmt.Errorf("wrap checkpoint key: %w", err)
	}
	if err := keys.WriteSecretFile(path, ct); err != nil {
		return fmt.Errorf("write checkpoint key: %w", err)
	}
	return nil
}

// exists reports whether path exists; an error other than "does not exist" is returned.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// LoadVerifier reads a note verifier key file (checkpoint-signer.pub).
func LoadVerifier(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key %s: %w", path, err)
	}
	return v, nil
}
