package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/keys"
)

const (
	// signingKeyFile and signingKeyPurpose are the legacy format, sealed directly with the
	// master key; read only to migrate it.
	signingKeyFile    = "signing.key"
	signingKeyPurpose = "idp/signing.key"
)

// signingKey is the provider's ES256 key. Its kid is the RFC 7638 thumbprint of the public
// key, so it is the same on every start.
type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

var (
	_ op.SigningKey = (*signingKey)(nil)
	_ op.Key        = publicKey{}
)

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// String keeps the private key out of logs and errors.
func (k *signingKey) String() string { return "signingKey(" + k.id + ")" }

// publicKey is what the JWKS serves.
type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// loadOrCreateSigningKey returns the provider's signing key, wrapped at rest by the key
// manager (signingkey_store.go): loaded, migrated from the legacy master-key-sealed file, or
// generated on first start.
func loadOrCreateSigningKey(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager) (*signingKey, error) {
	path := filepath.Join(dir, wrappedKeyFile)
	der, err := loadOrCreateSigningKeyDER(ctx, dir, mk, km)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, errNotP256)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("signing key %s: %w", path, errNotP256)
	}
	thumb, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key thumbprint: %w", err)
	}
	return &signingKey{id: base64.RawURLEncoding.EncodeToString(thumb), key: priv}, nil
}

var errNotP256 = errors.New("not a PKCS#8 P-256 private key")
