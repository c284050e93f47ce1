package auditlog

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
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
// clear next to it. A legacy key sealed with o.MasterKey is migrated. A verifier key
// without its signing key is refused rather than replaced: replacing it would orphan every
// checkpoint it signed. A signing key without its verifier key (a crash in createSigner
// between the two) gets its verifier key back, derived from it (restoreVerifierKey).
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
	if !hasPub {
		if err := restoreVerifierKey(pubPath, keyPath, skey, s, o); err != nil {
			return nil, nil, err
		}
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

// restoreVerifierKey writes the verifier key of the signing key skey (s, read from
// keyPath) to pubPath, durably as createSigner writes it, and says so loudly: a crash in
// createSigner between the signing key and its verifier key leaves a key without its
// verifier, and the verifier key is only the signing key's public half. It writes nothing
// when the log holds a checkpoint the key did not sign: then the key is not this log's,
// and a verifier key made from it would only hide that.
func restoreVerifierKey(pubPath, keyPath string, skey []byte, s note.Signer, o Options) error {
	vkey, err := verifierKeyOf(skey, s)
	if err != nil {
		return fmt.Errorf("checkpoint key %s: %w", keyPath, err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("checkpoint key %s: %w", keyPath, err)
	}
	if err := latestSignedBy(o.Path, v); err != nil {
		return fmt.Errorf("%s exists but %s is missing, and the key did not sign the log's checkpoints (%w): restore the verifier key from a backup", keyPath, pubPath, err)
	}
	if err := keys.WriteSecretFile(pubPath, []byte(vkey+"\n")); err != nil {
		return fmt.Errorf("write checkpoint verifier key: %w", err)
	}
	o.Log.Warn("audit: the checkpoint verifier key was missing (a crash after the signing key was written, or a deletion); it was written again from the signing key: check that the copies auditors hold match it",
		"file", pubPath, "key", keyPath, "name", v.Name(), "key_hash", fmt.Sprintf("%08x", v.KeyHash()))
	return nil
}

// verifierKeyOf returns the note verifier key of the signer key skey, which note.NewSigner
// accepted as s. The note package derives the public key inside NewSigner without
// exposing it, so the Ed25519 seed is taken from the key's last field
// ("PRIVATE+KEY+<name>+<hash>+<base64 of algorithm byte and seed>", as note.GenerateKey
// writes it), and the verifier key is encoded by note.NewEd25519VerifierKey. The result
// is then checked against s: same name and key hash (which note computes from the public
// key), and a signature made by s verifies.
func verifierKeyOf(skey []byte, s note.Signer) (string, error) {
	fields := strings.SplitN(string(skey), "+", 5)
	if len(fields) != 5 {
		return "", errors.New("not a note signer key")
	}
	b, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(b) != 1+ed25519.SeedSize || b[0] != 1 { // 1: note's Ed25519 algorithm
		return "", errors.New("not an Ed25519 note signer key")
	}
	defer clear(b)
	priv := ed25519.NewKeyFromSeed(b[1:])
	defer clear(priv)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", err
	}
	msg := []byte("bulwark: verifier key check\n")
	sig, err := s.Sign(msg)
	if err != nil {
		return "", err
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() || !v.Verify(msg, sig) {
		return "", errors.New("the verifier key derived from it does not verify its signatures")
	}
	return vkey, nil
}

// latestSignedBy checks that the log's latest checkpoint and the last entry of its
// history, where there are any, verify under v.
func latestSignedBy(events string, v note.Verifier) error {
	p := pathsFor(events)
	if _, err := readCheckpointFile(p.checkpoint, v); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.Open(p.history)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	notes, _, err := readHistory(f)
	if err != nil {
		return fmt.Errorf("%s: %w", p.history, err)
	}
	if len(notes) > 0 {
		if _, err := openCheckpoint(notes[len(notes)-1], v); err != nil {
			return fmt.Errorf("%s: last entry: %w", p.history, err)
		}
	}
	return nil
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
	b, err := readRegular(path, maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("checkpoint verifier key %s: %w", path, err)
	}
	return v, nil
}
