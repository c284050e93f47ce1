package auditnats

import (
	"crypto/tls"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

// TLSConfig is the client side of a tls:// NATS URL. The role always presents its current
// SVID from svid, so a nats-server with verify on and the trust bundle as its CA admits
// only workloads of the trust domain. The server is verified against bundle as exactly
// serverID when serverID is set (a server holding an SVID: audit.nats.server_id), else
// against the system roots and the URL's host name (a server with a web PKI certificate).
// Each handshake takes the SVID afresh, so reconnects after a rotation present the new one.
func TLSConfig(svid x509svid.Source, bundle x509bundle.Source, serverID spiffeid.ID) *tls.Config {
	if !serverID.IsZero() {
		return identity.ClientTLS(svid, bundle, serverID)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetClientCertificate: tlsconfig.GetClientCertificate(svid)}
}
