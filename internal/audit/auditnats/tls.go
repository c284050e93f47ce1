package auditnats

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

// Server says how a role verifies the NATS server of a tls:// URL: as exactly ID against
// the trust bundle when ID is set (a server holding an SVID: audit.nats.server_id), else
// as an ordinary TLS server by crypto/tls — a chain to Roots (a private CA:
// audit.nats.ca_file), or to the system roots when Roots is nil, and the name Name
// (audit.nats.server_name), or the URL's host when Name is empty.
type Server struct {
	ID    spiffeid.ID
	Roots *x509.CertPool
	Name  string
}

// TLSConfig is the client side of a tls:// NATS URL. The role always presents its current
// SVID from svid, so a nats-server with verify on and the trust bundle as its CA admits
// only workloads of the trust domain (a server with another CA may map or ignore it). The
// server is verified as server says. Each handshake takes the SVID afresh, so reconnects
// after a rotation present the new one.
func TLSConfig(svid x509svid.Source, bundle x509bundle.Source, server Server) *tls.Config {
	if !server.ID.IsZero() {
		return identity.ClientTLS(svid, bundle, server.ID)
	}
	// An empty ServerName is filled in by nats.go with the host of the URL being dialled.
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: server.Roots, ServerName: server.Name,
		GetClientCertificate: tlsconfig.GetClientCertificate(svid)}
}
