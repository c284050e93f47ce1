package identity

import (
	"crypto/tls"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// ServerTLS returns a TLS 1.3 server config that presents the current SVID from svid and
// requires a client SVID that chains to bundle and passes authorize (wrapped in
// Authorizer). The SVID is fetched per handshake, so rotation needs no restart and leaves
// established connections alone. Authorization that fails here fails the handshake.
func ServerTLS(svid x509svid.Source, bundle x509bundle.Source, authorize tlsconfig.Authorizer) *tls.Config {
	c := tlsconfig.MTLSServerConfig(svid, bundle, Authorizer(authorize))
	c.MinVersion = tls.VersionTLS13
	// A resumed session skips VerifyPeerCertificate, so a peer whose CA left the bundle (or
	// whose SVID no longer passes authorize) could go on resuming: every handshake verifies.
	c.SessionTicketsDisabled = true
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// ClientTLS returns a TLS 1.3 client config that presents the current SVID from svid and
// accepts only a server whose SVID is exactly want.
func ClientTLS(svid x509svid.Source, bundle x509bundle.Source, want spiffeid.ID) *tls.Config {
	c := tlsconfig.MTLSClientConfig(svid, bundle, Authorizer(tlsconfig.AuthorizeID(want)))
	c.MinVersion = tls.VersionTLS13
	return c
}

// ServiceID returns spiffe://<td>/svc/<name>.
func ServiceID(td spiffeid.TrustDomain, name string) (spiffeid.ID, error) {
	return spiffeid.FromSegments(td, "svc", name)
}

// ServiceName returns <name> for spiffe://<td>/svc/<name>, or false for any other shape.
func ServiceName(id spiffeid.ID) (string, bool) {
	p := id.Path()
	const prefix = "/svc/"
	if len(p) <= len(prefix) || p[:len(prefix)] != prefix {
		return "", false
	}
	name := p[len(prefix):]
	for _, c := range name {
		if c == '/' {
			return "", false
		}
	}
	return name, true
}
