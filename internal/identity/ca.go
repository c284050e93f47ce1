package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const (
	rootCertFile  = "root.pem"
	interCertFile = "intermediate.pem"

	// The keys as versions before the key manager sealed them (keystore.go migrates them).
	rootKeyFile     = "root.key"
	interKeyFile    = "intermediate.key"
	purposeRootKey  = "ca/root.key"
	purposeInterKey = "ca/intermediate.key"

	rootTTL  = 365 * 24 * time.Hour
	interTTL = 90 * 24 * time.Hour
	// backdate is how far before "now" every certificate starts, to absorb clock skew.
	backdate = 30 * time.Second
)

// CA is the embedded workload CA: a root that only signs intermediates, and the current
// intermediate that signs SVIDs. It is safe for concurrent use. The root key is not kept in
// memory; it is read from disk only to renew the intermediate.
type CA struct {
	td  spiffeid.TrustDomain
	dir string
	mk  *keys.MasterKey // opens key files of earlier versions, to migrate them
	km  KeyManager      // wraps the keys
	now func() time.Time

	root *x509.Certificate

	mu       sync.Mutex // guards inter and interKey
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
}

// LoadOrCreateCA loads the CA from dir, or creates it when dir holds no root certificate.
// The keys are wrapped by km; key files sealed with mk by earlier versions are migrated.
// On load it checks that each key opens and matches its certificate, that the root
// is a CA for td and still valid, and that the intermediate is signed by the root; it renews
// the intermediate when less than a third of its life remains, and reissues it from the root
// when its certificate or key is missing or they do not match (an interrupted renewal).
// now may be nil (time.Now).
func LoadOrCreateCA(ctx context.Context, dir string, mk *keys.MasterKey, km KeyManager, td spiffeid.TrustDomain, now func() time.Time) (ca *CA, created bool, err error) {
	if mk == nil {
		return nil, false, errors.New("ca: no master key")
	}
	if km == nil {
		return nil, false, errors.New("ca: no key manager")
	}
	if td.IsZero() {
		return nil, false, errors.New("ca: no trust domain")
	}
	if now == nil {
		now = time.Now
	}
	if err := keys.SecretDir(dir); err != nil {
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	ca = &CA{td: td, dir: dir, mk: mk, km: km, now: now}
	root, err := readCert(ca.path(rootCertFile))
	switch {
	case errNotExist(err):
		if err := ca.create(ctx); err != nil {
			return nil, false, fmt.Errorf("ca: create: %w", err)
		}
		return ca, true, nil
	case err != nil:
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	if err := ca.load(ctx, root); err != nil {
		return nil, false, fmt.Errorf("ca: %w", err)
	}
	return ca, false, nil
}

// RootExpiryWarning is how long before the root expires Bulwark starts warning about it.
const RootExpiryWarning = 30 * 24 * time.Hour

// RootNotAfter returns when the root, and with it the CA, expires.
func (ca *CA) RootNotAfter() time.Time { return ca.root.NotAfter }

// warnRootExpiry logs a warning when the root has less than RootExpiryWarning left.
func (ca *CA) warnRootExpiry(log *slog.Logger) {
	left := ca.root.NotAfter.Sub(ca.now())
	if left >= RootExpiryWarning {
		return
	}
	log.Warn("workload CA root expires soon and is not rotated automatically",
		"not_after", ca.root.NotAfter.UTC().Format(time.RFC3339), "days_left", int(left.Hours()/24),
		"action", "stop Bulwark, move "+ca.dir+" aside and start it again: a new root is created and every workload gets the new bundle")
}

// TrustDomain returns the trust domain the CA issues for.
func (ca *CA) TrustDomain() spiffeid.TrustDomain { return ca.td }

// Bundle returns the trust bundle: the root alone. Each call returns a new bundle, so a
// caller cannot change what the CA trusts.
func (ca *CA) Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, []*x509.Certificate{ca.root})
}

// BundlePEM returns the root certificate as PEM.
func (ca *CA) BundlePEM() []byte { return certPEM(ca.root) }

func (ca *CA) path(name string) string { return filepath.Join(ca.dir, name) }

// create makes a new root and intermediate. root.pem is written last: its presence marks
// a complete CA, so a crash half-way leads to a fresh start rather than a broken load.
func (ca *CA) create(ctx context.Context) error {
	now := ca.now()
	key, err := newKey()
	if err != nil {
		return err
	}
	tmpl := ca.caTemplate("Bulwark workload root CA", now, now.Add(rootTTL), 1)
	root, err := signCert(tmpl, nil, key.Public(), key)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if err := rootKeySlot.write(ctx, ca.dir, ca.km, key); err != nil {
		return err
	}
	ca.root = root
	if err := ca.issueIntermediate(ctx, now, key); err != nil {
		return err
	}
	return writeCert(ca.path(rootCertFile), root)
}

func (ca *CA) load(ctx context.Context, root *x509.Certificate) error {
	now := ca.now()
	want := ca.td.ID().String()
	switch {
	case !root.IsCA || root.CheckSignatureFrom(root) != nil:
		return fmt.Errorf("%s: not a self-signed CA certificate", ca.path(rootCertFile))
	case len(root.URIs) != 1 || root.URIs[0].String() != want:
		return fmt.Errorf("%s: root is not for trust domain %q (URI SANs %v)", ca.path(rootCertFile), ca.td, root.URIs)
	case !now.Before(root.NotAfter):
		return fmt.Errorf("%s: root expired at %s; move %s aside to create a new CA (every workload will get the new bundle)",
			ca.path(rootCertFile), root.NotAfter.UTC().Format(time.RFC3339), ca.dir)
	}
	if _, err := rootKeySlot.read(ctx, ca.dir, ca.mk, ca.km, root); err != nil {
		return err
	}
	ca.root = root

	inter, err := readCert(ca.path(interCertFile))
	if errNotExist(err) {
		return ca.renewIntermediate(ctx, now)
	}
	if err != nil {
		return err
	}
	if err := inter.CheckSignatureFrom(root); err != nil || !inter.IsCA {
		return fmt.Errorf("%s: not a CA certificate signed by %s", ca.path(interCertFile), ca.path(rootCertFile))
	}
	interKey, err := interKeySlot.read(ctx, ca.dir, ca.mk, ca.km, inter)
	switch {
	case lostPair(err):
		// A crash between the two writes of a renewal, or two processes renewing at once,
		// leaves the key of one intermediate beside the certificate of another. The root is
		// the trust anchor: issue a fresh intermediate from it.
		return ca.renewIntermediate(ctx, now)
	case err != nil:
		return err
	}
	ca.inter, ca.interKey = inter, interKey
	if dueForRenewal(inter, now) {
		return ca.renewIntermediate(ctx, now)
	}
	return nil
}

// signer returns the current intermediate and its key, renewing the intermediate first when
// it is due, so that a long-running process never issues from an expiring intermediate.
func (ca *CA) signer(now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if dueForRenewal(ca.inter, now) {
		// Issuing has no context of its own; the key manager's lock wait is short.
		if err := ca.renewIntermediateLocked(context.Background(), now); err != nil {
			return nil, nil, err
		}
	}
	return ca.inter, ca.interKey, nil
}

func (ca *CA) renewIntermediate(ctx context.Context, now time.Time) error {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.renewIntermediateLocked(ctx, now)
}

func (ca *CA) renewIntermediateLocked(ctx context.Context, now time.Time) error {
	rootKey, err := rootKeySlot.read(ctx, ca.dir, ca.mk, ca.km, ca.root)
	if err != nil {
		return fmt.Errorf("renew intermediate: %w", err)
	}
	if err := ca.issueIntermediate(ctx, now, rootKey); err != nil {
		return fmt.Errorf("renew intermediate: %w", err)
	}
	return nil
}

// issueIntermediate signs a new intermediate with rootKey, writes it and makes it current.
// Callers hold mu, or own ca exclusively.
func (ca *CA) issueIntermediate(ctx context.Context, now time.Time, rootKey *ecdsa.PrivateKey) error {
	if !now.Before(ca.root.NotAfter) {
		return fmt.Errorf("root expired at %s", ca.root.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	notAfter := now.Add(interTTL)
	if notAfter.After(ca.root.NotAfter) {
		notAfter = ca.root.NotAfter
	}
	tmpl := ca.caTemplate("Bulwark workload intermediate CA", now, notAfter, 0)
	inter, err := signCert(tmpl, ca.root, key.Public(), rootKey)
	if err != nil {
		return fmt.Errorf("intermediate: %w", err)
	}
	if err := interKeySlot.write(ctx, ca.dir, ca.km, key); err != nil {
		return err
	}
	if err := writeCert(ca.path(interCertFile), inter); err != nil {
		return err
	}
	ca.inter, ca.interKey = inter, key
	return nil
}

// caTemplate is a signing certificate for the trust domain: its URI SAN is the trust
// domain's ID, as the SPIFFE X.509-SVID specification recommends for signing certificates.
func (ca *CA) caTemplate(cn string, now, notAfter time.Time, maxPathLen int) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"Bulwark"}, CommonName: cn + " " + ca.td.Name()},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{ca.td.ID().URL()},
	}
}
