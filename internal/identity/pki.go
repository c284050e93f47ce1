package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// This file holds the small PKI steps shared by the workload CA and the edge CA.

// newKey returns a fresh ECDSA P-256 key.
func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// newSerial returns a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	if n.Sign() == 0 { // a zero serial is invalid; the odds are 2^-128 but it costs one line
		n.SetInt64(1)
	}
	return n, nil
}

// signCert creates tmpl signed by parent/parentKey (self-signed when parent is nil) and
// returns it parsed.
func signCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// certPEM encodes certificates as PEM blocks, in order.
func certPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// writeCert writes one certificate as PEM. Certificates are not secret, but writing them
// through WriteSecretFile makes the write atomic and keeps the directory 0700.
func writeCert(path string, c *x509.Certificate) error {
	if err := keys.WriteSecretFile(path, certPEM(c)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readCert reads a file holding exactly one PEM certificate.
func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	if len(bytes.TrimSpace(rest)) != 0 { // want exactly one
		return nil, fmt.Errorf("%s: more than one PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readSealedKey opens a key that a version before the key manager sealed with mk for
// purpose (keystore.go migrates it), and checks that it belongs to cert.
func readSealedKey(path string, mk *keys.MasterKey, purpose string, cert *x509.Certificate) (*ecdsa.PrivateKey, error) {
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	der, err := mk.Open(sealed, purpose)
	if err != nil {
		return nil, fmt.Errorf("%s: the master key does not open this file (wrong master key, or the file was altered or moved): %w", path, err)
	}
	return parseKey(path, der, cert)
}

// dueForRenewal reports whether c has expired, is not yet valid, or has less than a third of
// its lifetime left at now.
func dueForRenewal(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore)
	return now.Before(c.NotBefore) || c.NotAfter.Sub(now) < life/3
}

// errKeyMismatch says a key file holds a valid key that is not its certificate's: what a
// crash between writing a key and its certificate, or two processes renewing at once, leaves.
var errKeyMismatch = errors.New("key does not match its certificate")

// lostPair reports whether err from keySlot.read means the key is missing or belongs to
// another certificate, so the pair should be reissued by its issuer. A key that does not
// open (wrong master key, tampering) is not a lost pair.
func lostPair(err error) bool { return errNotExist(err) || errors.Is(err, errKeyMismatch) }

// errNotExist reports whether err says a file is missing.
func errNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
