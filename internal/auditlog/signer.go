package auditlog

import (
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

const (
	signerKeyFile = "checkpoint-signer.key"
	signerPubFile = "checkpoint-signer.pub"
	// signerPurpose binds the sealed key to this use (associated data of the seal).
	signerPurpose = "audit/checkpoint-signer.key"
)

// loadOrCreateSigner returns the directory's checkpoint signer, creating an Ed25519 note
// key named name on first use. The private key is sealed under the master key; the
// verifier key is written in the clear next to it. A key without its verifier, or the
// reverse, is refused rather than replaced: replacing it would orphan every checkpoint it
// signed.
func loadOrCreateSigner(dir, name string, mk *keys.MasterKey) (note.Signer, note.Verifier, error) {
	keyPath, pubPath := filepath.Join(dir, signerKeyFile), filepath.Join(dir, signerPubFile)
	_, kerr := os.Stat(keyPath)
	_, perr := os.Stat(pubPath)
	switch {
	case errors.Is(kerr, fs.ErrNotExist) && errors.Is(perr, fs.ErrNotExist):
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, nil, fmt.Errorf("generate checkpoint key: %w", err)
		}
		if err := mk.WriteSealedFile(keyPath, []byte(skey), signerPurpose); err != nil {
			return nil, nil, fmt.Errorf("write checkpoint key: %w", err)
		}
		if err := keys.WriteSecretFile(pubPath, []byte(vkey+"\n")); err != nil {
			return nil, nil, fmt.Errorf("write checkpoint verifier key: %w", err)
		}
	case kerr != nil && !errors.Is(kerr, fs.ErrNotExist):
		return nil, nil, kerr
	case perr != nil && !errors.Is(perr, fs.ErrNotExist):
		return nil, nil, perr
	case kerr != nil:
		return nil, nil, fmt.Errorf("%s exists but %s is missing: restore it from a backup (checkpoints signed with it cannot be verified otherwise)", pubPath, keyPath)
	case perr != nil:
		return nil, nil, fmt.Errorf("%s exists but %s is missing: restore it from a backup", keyPath, pubPath)
	}
	skey, err := mk.ReadSealedFile(keyPath, signerPurpose)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint key: %w", err)
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
	return s, v, nil
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
