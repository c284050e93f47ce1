package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

const (
	edgeCACertFile     = "ca.pem"
	edgeServerCertFile = "server.pem"

	// The keys as versions before the key manager sealed them (keystore.go migrates them).
	edgeCAKeyFile        = "ca.key"
	edgeServerKeyFile    = "server.key"
	purposeEdgeCAKey     = "edge/ca.key"
	purposeEdgeServerKey = "edge/server.key"

	edgeCATTL     = 5 * 365 * 24 * time.Hour // people import it into trust stores: keep it stable
	edgeServerTTL = 90 * 24 * time.Hour
)

// LoadOrCreateEdgeCert loads or creates, in dir, the gateway's public TLS certificate: a
// self-signed "Bulwark edge CA" and a server certificate it signs for localhost, 127.0.0.1,
// ::1 and the extra hosts (IP addresses or DNS names). The edge CA is unrelated to the
// workload CA and the server certificate has no URI SAN and only the serverAuth usage, so it
// can never pass as an SVID, nor an SVID as it.
//
// The server certificate lasts 90 days and is reissued when it has expired, has less than a
// third of its life left, does not match the hosts, was not signed by the current edge CA,
// or its key is missing or not its own (an interrupted write); the edge CA is renewed on the
// same one-third rule, and remade when its key is missing or not its own. The keys are
// wrapped by km (EdgeKeyService, KeyPurposeEdgeCA and KeyPurposeEdgeServer); key files
// sealed with mk by earlier versions are migrated. It returns the certificate and the path
// of <dir>/ca.pem, the PEM bundle that verifies it.
func LoadOrCreateEdgeCert(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager, hosts []string, now func() time.Time) (cert *tls.Certificate, caBundlePath string, err error) {
	if mk == nil {
		return nil, "", errors.New("edge cert: no master key")
	}
	if km == nil {
		return nil, "", errors.New("edge cert: no key manager")
	}
	if now == nil {
		now = time.Now
	}
	dnsNames, ips, err := edgeHosts(hosts)
	if err != nil {
		return nil, "", fmt.Errorf("edge cert: %w", err)
	}
	if err := keys.SecretDir(dir); err != nil {
		return nil, "", fmt.Errorf("edge cert: %w", err)
	}
	t := now()
	ca, caKey, err := loadOrCreateEdgeCA(ctx, dir, mk, km, t)
	if err != nil {
		return nil, "", fmt.Errorf("edge cert: %w", err)
	}
	server, key, err := loadEdgeServer(ctx, dir, mk, km, ca, dnsNames, ips, t)
	if err != nil {
		return nil, "", fmt.Errorf("edge cert: %w", err)
	}
	if server == nil {
		if server, key, err = issueEdgeServer(ctx, dir, km, ca, caKey, dnsNames, ips, t); err != nil {
			return nil, "", fmt.Errorf("edge cert: %w", err)
		}
	}
	return &tls.Certificate{Certificate: [][]byte{server.Raw}, PrivateKey: key, Leaf: server},
		filepath.Join(dir, edgeCACertFile), nil
}

func loadOrCreateEdgeCA(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath := filepath.Join(dir, edgeCACertFile)
	ca, err := readCert(certPath)
	switch {
	case errNotExist(err):
	case err != nil:
		return nil, nil, err
	case !ca.IsCA || ca.CheckSignatureFrom(ca) != nil:
		return nil, nil, fmt.Errorf("%s: not a self-signed CA certificate", certPath)
	default:
		key, err := edgeCAKeySlot.read(ctx, dir, mk, km, ca)
		switch {
		case lostPair(err): // an interrupted write: the CA cannot sign anything, make a new one
		case err != nil:
			return nil, nil, err
		case !dueForRenewal(ca, now):
			return ca, key, nil
		}
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Bulwark"}, CommonName: "Bulwark edge CA"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(edgeCATTL),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca, err = signCert(tmpl, nil, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("edge ca: %w", err)
	}
	if err := edgeCAKeySlot.write(ctx, dir, km, key); err != nil {
		return nil, nil, err
	}
	if err := writeCert(certPath, ca); err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

// loadEdgeServer returns the server certificate on disk, or nil when it must be reissued.
func loadEdgeServer(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager, ca *x509.Certificate, dnsNames []string, ips []net.IP, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cert, err := readCert(filepath.Join(dir, edgeServerCertFile))
	if errNotExist(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if cert.CheckSignatureFrom(ca) != nil || dueForRenewal(cert, now) || !sameHosts(cert, dnsNames, ips) {
		return nil, nil, nil
	}
	key, err := edgeServerKeySlot.read(ctx, dir, mk, km, cert)
	switch {
	case lostPair(err): // an interrupted write: reissue
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return cert, key, nil
}

func issueEdgeServer(ctx context.Context, dir string, km KeyManager, ca *x509.Certificate, caKey *ecdsa.PrivateKey, dnsNames []string, ips []net.IP, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(edgeServerTTL)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"Bulwark"}, CommonName: dnsNames[0]},
		NotBefore:   now.Add(-backdate),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    dnsNames,
		IPAddresses: ips,
	}
	cert, err := signCert(tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("edge server: %w", err)
	}
	if err := edgeServerKeySlot.write(ctx, dir, km, key); err != nil {
		return nil, nil, err
	}
	if err := writeCert(filepath.Join(dir, edgeServerCertFile), cert); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// edgeHosts splits localhost, 127.0.0.1, ::1 and extra into DNS names and IP addresses,
// normalized and without duplicates. localhost is always the first DNS name.
func edgeHosts(extra []string) ([]string, []net.IP, error) {
	dnsNames := []string{"localhost"}
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	for _, h := range extra {
		h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "["), "]")
		if a, err := netip.ParseAddr(h); err == nil {
			if a.Zone() != "" {
				return nil, nil, fmt.Errorf("host %q: an IP address with a zone cannot go in a certificate", h)
			}
			if a = a.Unmap(); !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validDNSName(name) {
			return nil, nil, fmt.Errorf("host %q: not an IP address or a DNS name", h)
		}
		if !slices.Contains(dnsNames, name) {
			dnsNames = append(dnsNames, name)
		}
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = net.IP(a.AsSlice())
	}
	return dnsNames, ips, nil
}

// validDNSName accepts LDH names, with an optional leading "*." wildcard label.
func validDNSName(name string) bool {
	name = strings.TrimPrefix(name, "*.")
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// sameHosts reports whether cert names exactly dnsNames and ips, in any order.
func sameHosts(cert *x509.Certificate, dnsNames []string, ips []net.IP) bool {
	norm := func(dns []string, ips []net.IP) []string {
		out := slices.Clone(dns)
		for _, ip := range ips {
			a, _ := netip.AddrFromSlice(ip)
			out = append(out, "ip:"+a.Unmap().String())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(cert.DNSNames, cert.IPAddresses), norm(dnsNames, ips))
}
