package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// keyState is a bare state dir: master key, key manager and the idp directory.
type keyState struct {
	dir string // <state>/idp
	mk  *keys.MasterKey
	km  *envelope.Manager
}

func newKeyState(t *testing.T) *keyState {
	t.Helper()
	state := t.TempDir()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(state, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	km, err := envelope.Open(context.Background(), filepath.Join(state, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(state, idpDir)
	if err := keys.SecretDir(dir); err != nil {
		t.Fatal(err)
	}
	return &keyState{dir: dir, mk: mk, km: km}
}

// writeLegacySigningKey writes the signing key the way versions before the key manager did:
// PKCS#8 sealed directly with the master key in signing.key. It returns the key's kid.
func writeLegacySigningKey(t *testing.T, s *keyState) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.mk.WriteSealedFile(filepath.Join(s.dir, signingKeyFile), der, signingKeyPurpose); err != nil {
		t.Fatal(err)
	}
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(thumb)
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestSigningKeyMigratesLegacyFile: a state dir of the previous version keeps its key (same
// kid), which ends up wrapped by the key manager with the legacy file gone.
func TestSigningKeyMigratesLegacyFile(t *testing.T) {
	s := newKeyState(t)
	kid := writeLegacySigningKey(t, s)
	ctx := context.Background()
	k, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km)
	if err != nil {
		t.Fatalf("open legacy state: %v", err)
	}
	if k.ID() != kid {
		t.Fatalf("kid after migration %q, want the legacy key's %q", k.ID(), kid)
	}
	if exists(t, filepath.Join(s.dir, signingKeyFile)) {
		t.Error("legacy signing.key still there after migration")
	}
	if !exists(t, filepath.Join(s.dir, wrappedKeyFile)) {
		t.Fatal("no wrapped signing key after migration")
	}
	// The wrapped file is a key-manager ciphertext, not a master-key blob.
	b, _ := os.ReadFile(filepath.Join(s.dir, wrappedKeyFile))
	if _, err := s.mk.Open(b, signingKeyPurpose); err == nil {
		t.Error("wrapped file opens directly with the master key")
	}
	// `bulwark keys rotate` adds data-key versions; the wrapped key still opens.
	if _, err := s.km.RotateAll(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km)
	if err != nil || again.ID() != kid {
		t.Fatalf("after rotate: kid %v err %v, want %q", again, err, kid)
	}
}

// TestSigningKeyMigrationCrash: a crash after the new file was written but before the
// legacy file was removed leaves both; the state opens with the same key and is cleaned up.
func TestSigningKeyMigrationCrash(t *testing.T) {
	s := newKeyState(t)
	kid := writeLegacySigningKey(t, s)
	legacy, err := os.ReadFile(filepath.Join(s.dir, signingKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km); err != nil {
		t.Fatal(err)
	}
	// Put the legacy file back, as if the process died before removing it; and leave
	// a half-written temp file of the wrapped key, as a crash during the write would.
	if err := keys.WriteSecretFile(filepath.Join(s.dir, signingKeyFile), legacy); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, ".tmp-"+wrappedKeyFile+"-1"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km)
	if err != nil || k.ID() != kid {
		t.Fatalf("kid %v err %v, want %q", k, err, kid)
	}
	if exists(t, filepath.Join(s.dir, signingKeyFile)) {
		t.Error("legacy signing.key not removed on the next start")
	}

	// A crash before the wrapped file was renamed into place: only the legacy file.
	s2 := newKeyState(t)
	kid2 := writeLegacySigningKey(t, s2)
	if err := os.WriteFile(filepath.Join(s2.dir, ".tmp-"+wrappedKeyFile+"-2"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := loadOrCreateSigningKey(ctx, s2.dir, s2.mk, s2.km); err != nil || k.ID() != kid2 {
		t.Fatalf("kid %v err %v, want %q", k, err, kid2)
	}
}

// TestSigningKeyWrappedFileRefused: a tampered wrapped file, or a ciphertext of another
// purpose or file moved into its place, fails clearly and is not replaced by a new key.
func TestSigningKeyWrappedFileRefused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		mutate func(t *testing.T, s *keyState, path string)
	}{
		{"tampered", func(t *testing.T, s *keyState, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 1
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"other purpose", func(t *testing.T, s *keyState, path string) {
			ct, err := s.km.Encrypt(ctx, KeyService, "ca-root", []byte("not this key"), []byte(wrappedKeyAD))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, ct, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"other file", func(t *testing.T, s *keyState, path string) {
			ct, err := s.km.Encrypt(ctx, KeyService, KeyPurposeSigning, []byte("not this key"), []byte("idp/other.wrapped"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, ct, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"legacy blob renamed", func(t *testing.T, s *keyState, path string) {
			sealed, err := s.mk.Seal([]byte("legacy"), signingKeyPurpose)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, sealed, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newKeyState(t)
			if _, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(s.dir, wrappedKeyFile)
			tt.mutate(t, s, path)
			before, _ := os.ReadFile(path)
			_, err := loadOrCreateSigningKey(ctx, s.dir, s.mk, s.km)
			if err == nil || !strings.Contains(err.Error(), "does not open") || !strings.Contains(err.Error(), wrappedKeyFile) {
				t.Fatalf("err = %v, want one naming %s and saying it does not open", err, wrappedKeyFile)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("a refused wrapped file was changed")
			}
		})
	}
}
