// Package testpki is a small CA for tests: it mints X.509-SVIDs (good and deliberately bad
// ones) and TLS server certificates, all generated at test time. Never used outside tests.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// CA is a self-signed root that signs leaves directly.
type CA struct {
	TD   spiffeid.TrustDomain
	Root *x509.Certificate
	key  crypto.Signer
}

// New returns a CA for trust domain td.
func New(t testing.TB, td string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "testpki root " + td},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: td}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testpki: create root: %v", err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{TD: spiffeid.RequireTrustDomainFromString(td), Root: root, key: key}
}

// Bundle returns the CA's trust bundle.
func (ca *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.TD, []*x509.Certificate{ca.Root})
}

// Pool returns a cert pool holding the root.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

// SVIDOption changes a leaf template, to mint deliberately bad SVIDs.
type SVIDOption func(*x509.Certificate)

// WithTTL sets the leaf's lifetime.
func WithTTL(d time.Duration) SVIDOption {
	return func(c *x509.Certificate) { c.NotAfter = time.Now().Add(d) }
}

// AsCA marks the leaf as a CA (invalid for an SVID).
func AsCA() SVIDOption {
	return func(c *x509.Certificate) {
		c.IsCA = true
		c.KeyUsage |= x509.KeyUsageCertSign
	}
}

// WithoutDigitalSignature drops the digitalSignature key usage (invalid for an SVID).
func WithoutDigitalSignature() SVIDOption {
	return func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }
}

// ExtraURI adds a second URI SAN (invalid for an SVID).
func ExtraURI(u string) SVIDOption {
	return func(c *x509.Certificate) {
		parsed, _ := url.Parse(u)
		c.URIs = append(c.URIs, parsed)
	}
}

// SVID mints an X.509-SVID for spiffe://<td>/svc/<name>.
func (ca *CA) SVID(t testing.TB, name string, opts ...SVIDOption) *x509svid.SVID {
	t.Helper()
	return ca.SVIDFor(t, spiffeid.RequireFromSegments(ca.TD, "svc", name), opts...)
}

// SVIDFor mints an X.509-SVID for any SPIFFE ID (even one outside the CA's trust domain).
func (ca *CA) SVIDFor(t testing.TB, id spiffeid.ID, opts ...SVIDOption) *x509svid.SVID {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{id.URL()},
	}
	for _, o := range opts {
		o(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Root, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("testpki: create svid: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &x509svid.SVID{ID: id, Certificates: []*x509.Certificate{leaf}, PrivateKey: key}
}

// ServerCert mints a TLS server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) ServerCert(t testing.TB) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Root, key.Public(), ca.key)
	if err != nil {
		t.Fatalf("testpki: create server cert: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
