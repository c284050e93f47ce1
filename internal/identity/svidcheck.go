package identity

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
)

// CheckLeaf enforces the parts of the X.509-SVID specification that go-spiffe's
// x509svid.Verify does not (upstream PR #405): the leaf is not a CA, carries the
// digitalSignature key usage and no keyCertSign or cRLSign, and has exactly one URI SAN.
func CheckLeaf(leaf *x509.Certificate) error {
	switch {
	case leaf == nil:
		return errors.New("svid: no leaf certificate")
	case leaf.IsCA:
		return errors.New("svid: leaf certificate is a CA")
	case leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return errors.New("svid: leaf certificate lacks the digitalSignature key usage")
	case leaf.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0:
		return errors.New("svid: leaf certificate has keyCertSign or cRLSign")
	case len(leaf.URIs) != 1:
		return fmt.Errorf("svid: leaf certificate has %d URI SANs, want exactly 1", len(leaf.URIs))
	}
	return nil
}

// Authorizer wraps a go-spiffe authorizer so that the leaf checks of CheckLeaf run first.
// Every TLS config in Bulwark that accepts an SVID goes through it, so the check happens in
// the handshake and fails closed.
func Authorizer(inner tlsconfig.Authorizer) tlsconfig.Authorizer {
	return func(id spiffeid.ID, chains [][]*x509.Certificate) error {
		if len(chains) == 0 || len(chains[0]) == 0 {
			return errors.New("svid: no verified chain")
		}
		if err := CheckLeaf(chains[0][0]); err != nil {
			return err
		}
		return inner(id, chains)
	}
}
