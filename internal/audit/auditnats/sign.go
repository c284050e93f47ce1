package auditnats

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// sigAlgorithm is the signature algorithm made with a key of alg.
func sigAlgorithm(alg x509.PublicKeyAlgorithm) (x509.SignatureAlgorithm, crypto.Hash, error) {
	switch alg {
	case x509.ECDSA:
		return x509.ECDSAWithSHA256, crypto.SHA256, nil
	case x509.RSA:
		return x509.SHA256WithRSA, crypto.SHA256, nil
	case x509.Ed25519:
		return x509.PureEd25519, 0, nil
	}
	return 0, 0, fmt.Errorf("unsupported SVID key algorithm %s", alg)
}

// sign returns the chain and signature headers for body, made with svid.
func sign(svid *x509svid.SVID, body []byte) (chain, sig string, err error) {
	if len(svid.Certificates) == 0 {
		return "", "", errors.New("SVID has no certificate")
	}
	_, hash, err := sigAlgorithm(svid.Certificates[0].PublicKeyAlgorithm)
	if err != nil {
		return "", "", err
	}
	msg := body
	if hash != 0 {
		sum := sha256.Sum256(body)
		msg = sum[:]
	}
	s, err := svid.PrivateKey.Sign(rand.Reader, msg, hash)
	if err != nil {
		return "", "", fmt.Errorf("sign audit batch: %w", err)
	}
	certs := make([]string, len(svid.Certificates))
	for i, c := range svid.Certificates {
		certs[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return strings.Join(certs, ","), base64.StdEncoding.EncodeToString(s), nil
}

// maxChain bounds the certificates a message may carry.
const maxChain = 8

// verify checks that chain is an SVID of the trust bundle valid at t and that sig is its
// key's signature of body, and returns its SPIFFE ID.
func verify(bundle x509bundle.Source, chain, sig string, body []byte, t time.Time) (spiffeid.ID, error) {
	parts := strings.Split(chain, ",")
	if chain == "" || len(parts) > maxChain {
		return spiffeid.ID{}, fmt.Errorf("missing or oversized %s header", HeaderChain)
	}
	certs := make([]*x509.Certificate, len(parts))
	for i, p := range parts {
		der, err := base64.StdEncoding.DecodeString(p)
		if err != nil {
			return spiffeid.ID{}, fmt.Errorf("%s: certificate %d: %w", HeaderChain, i, err)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return spiffeid.ID{}, fmt.Errorf("%s: certificate %d: %w", HeaderChain, i, err)
		}
	}
	id, _, err := x509svid.Verify(certs, bundle, x509svid.WithTime(t))
	if err != nil {
		return spiffeid.ID{}, fmt.Errorf("sender SVID: %w", err)
	}
	leaf := certs[0]
	// The leaf checks x509svid.Verify skips (go-spiffe PR #405): an end-entity signing key.
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return spiffeid.ID{}, errors.New("sender SVID: not an end-entity signing certificate")
	}
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(s) == 0 {
		return spiffeid.ID{}, fmt.Errorf("missing or malformed %s header", HeaderSignature)
	}
	alg, _, err := sigAlgorithm(leaf.PublicKeyAlgorithm)
	if err != nil {
		return spiffeid.ID{}, err
	}
	if err := leaf.CheckSignature(alg, body, s); err != nil {
		return spiffeid.ID{}, fmt.Errorf("batch signature: %w", err)
	}
	return id, nil
}
