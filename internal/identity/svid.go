package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// IssueSVID mints an X.509-SVID for id, valid for ttl (capped at the intermediate's expiry),
// per the SPIFFE X.509-SVID specification: a fresh P-256 key, exactly one URI SAN, not a CA,
// digitalSignature only, serverAuth and clientAuth, a random 128-bit serial, and a start
// 30 seconds in the past for clock skew. The chain is [leaf, intermediate]. id must be a
// workload ID (it has a path) in the CA's trust domain.
func (ca *CA) IssueSVID(id spiffeid.ID, ttl time.Duration) (*x509svid.SVID, error) {
	switch {
	case id.IsZero():
		return nil, errors.New("issue svid: empty SPIFFE ID")
	case !id.MemberOf(ca.td):
		return nil, fmt.Errorf("issue svid: %s is not in trust domain %q", id, ca.td)
	case id.Path() == "":
		return nil, fmt.Errorf("issue svid: %s names the trust domain, not a workload", id)
	case ttl <= 0:
		return nil, fmt.Errorf("issue svid: ttl %s must be positive", ttl)
	}
	now := ca.now()
	inter, interKey, err := ca.signer(now)
	if err != nil {
		return nil, fmt.Errorf("issue svid: %w", err)
	}
	notAfter := now.Add(ttl)
	if notAfter.After(inter.NotAfter) {
		notAfter = inter.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("issue svid: intermediate expired at %s", inter.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := newKey()
	if err != nil {
		return nil, fmt.Errorf("issue svid: %w", err)
	}
	tmpl := &x509.Certificate{
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:                  []*url.URL{id.URL()},
	}
	leaf, err := signCert(tmpl, inter, key.Public(), interKey)
	if err != nil {
		return nil, fmt.Errorf("issue svid: %w", err)
	}
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{leaf, inter}, PrivateKey: key}, nil
}

// WriteSVIDFiles writes cert.pem (the chain: leaf, then intermediates), key.pem (PKCS#8)
// and bundle.pem into dir. Every file is 0600 and each write is atomic; dir is created 0700
// when missing, and an existing one is used as it is unless group or others can write to it.
func WriteSVIDFiles(dir string, svid *x509svid.SVID, bundle *x509bundle.Bundle) error {
	if svid == nil || bundle == nil {
		return errors.New("write svid files: nil svid or bundle")
	}
	certs, key, err := svid.Marshal()
	if err != nil {
		return fmt.Errorf("write svid files: %w", err)
	}
	roots, err := bundle.Marshal()
	if err != nil {
		return fmt.Errorf("write svid files: bundle: %w", err)
	}
	if err := keys.SecretDir(dir); err != nil {
		return fmt.Errorf("write svid files: %w", err)
	}
	// The key goes first so that cert.pem never names a key that is not on disk yet.
	for _, f := range []struct {
		name string
		data []byte
	}{{"key.pem", key}, {"cert.pem", certs}, {"bundle.pem", roots}} {
		if err := keys.WriteSecretFile(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("write svid files: %s: %w", f.name, err)
		}
	}
	return nil
}
