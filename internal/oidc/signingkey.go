package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/bulwark-security/bulwark/internal/keys"
)

const (
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

// loadOrCreateSigningKey opens <dir>/signing.key (PKCS#8, sealed with the master key), or
// generates a P-256 key and writes it sealed, 0600, when there is none.
func loadOrCreateSigningKey(dir string, mk *keys.MasterKey) (*signingKey, error) {
	path := filepath.Join(dir, signingKeyFile)
	der, err := mk.ReadSealedFile(path, signingKeyPurpose)
	if errors.Is(err, fs.ErrNotExist) {
		priv, gerr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("generate signing key: %w", gerr)
		}
		if der, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return nil, fmt.Errorf("encode signing key: %w", err)
		}
		if err = mk.WriteSealedFile(path, der, signingKeyPurpose); err != nil {
			return nil, fmt.Errorf("write signing key: %w", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
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
