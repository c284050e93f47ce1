package config

import (
	"crypto/x509"
	"net"
	"net/url"
	"regexp"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/cabundle"
)

// Audit delivery transports.
const (
	AuditTransportHTTPS = "https"
	AuditTransportNATS  = "nats"
)

const (
	defaultSpoolMaxBytes = 256 << 20
	minSpoolMaxBytes     = 1 << 20
	defaultAuditStream   = "BULWARK_AUDIT"
)

// AuditNATS configures delivery of audit events through NATS JetStream.
type AuditNATS struct {
	// URL of the NATS server, e.g. nats://127.0.0.1:4222, or tls://nats.example:4222 for
	// TLS, in which every role presents its SVID as its client certificate. Required with
	// transport nats.
	URL string `yaml:"url"`
	// ServerID is the SPIFFE ID of the NATS server's certificate (an SVID of this trust
	// domain): with it the roles verify the server against the trust bundle instead of the
	// system roots and the URL's host name. Only with a tls:// URL. Default: none.
	ServerID string `yaml:"server_id"`
	// Server is ServerID parsed (set by Load).
	Server spiffeid.ID `yaml:"-"`
	// CAFile is a PEM bundle of the CAs that sign the NATS server's certificate, for a
	// server whose certificate comes from a private (non-SPIFFE) CA: the roles verify it as
	// an ordinary TLS server (a chain to these CAs and server_name) instead of against the
	// system roots, and still present their SVIDs. Read at load; it must hold CERTIFICATE
	// blocks only. Like the other *_file keys, a relative path is resolved against the
	// working directory. Only with a tls:// URL, and not with server_id (one trust model at
	// a time). Default: none (the system roots).
	CAFile string `yaml:"ca_file"`
	// ServerName is the DNS name (or IP address) the NATS server's certificate must carry
	// when it is verified against ca_file or the system roots. Only with a tls:// URL, not
	// with server_id (which verifies the SPIFFE ID, not a name). Default: the URL's host.
	ServerName string `yaml:"server_name"`
	// RootCAs holds CAFile's certificates (set by Load); nil without CAFile.
	RootCAs *x509.CertPool `yaml:"-"`
	// Stream is the JetStream stream (created when missing; subject
	// bulwark.audit.<stream>). Default BULWARK_AUDIT.
	Stream string `yaml:"stream"`
}

var streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c *Config) applyDeliveryDefaults() {
	a := &c.Audit
	if a.SpoolMaxBytes == 0 {
		a.SpoolMaxBytes = defaultSpoolMaxBytes
	}
	if a.Transport == "" {
		a.Transport = AuditTransportHTTPS
	}
	if a.NATS.Stream == "" {
		a.NATS.Stream = defaultAuditStream
	}
	if id, err := spiffeid.FromString(a.NATS.ServerID); err == nil {
		a.NATS.Server = id // an invalid one is reported by validateDelivery
	}
}

func (c *Config) validateDelivery() []error {
	var errs []error
	a := c.Audit
	if a.SpoolMaxBytes < minSpoolMaxBytes {
		errs = append(errs, c.errAt("audit.spool_max_bytes", "must be at least %d (1 MiB), got %d", minSpoolMaxBytes, a.SpoolMaxBytes))
	}
	switch a.Transport {
	case AuditTransportHTTPS:
	case AuditTransportNATS:
		u, err := url.Parse(a.NATS.URL)
		if a.NATS.URL == "" || err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			errs = append(errs, c.errAt("audit.nats.url", "transport nats needs a nats:// or tls:// URL with a host"))
		}
		if a.NATS.ServerID != "" {
			if err == nil && u.Scheme != "tls" {
				errs = append(errs, c.errAt("audit.nats.server_id", "needs a tls:// audit.nats.url: over nats:// the server is not verified"))
			}
			if _, err := spiffeid.FromString(a.NATS.ServerID); err != nil {
				errs = append(errs, c.errAt("audit.nats.server_id", "not a SPIFFE ID: %v", err))
			}
		}
		errs = append(errs, c.validateNATSServerTLS(err == nil && u.Scheme == "tls")...)
	default:
		errs = append(errs, c.errAt("audit.transport", "must be %q or %q, got %q", AuditTransportHTTPS, AuditTransportNATS, a.Transport))
	}
	if !streamNameRE.MatchString(a.NATS.Stream) {
		errs = append(errs, c.errAt("audit.nats.stream", "must be 1 to 64 letters, digits, '_' or '-'"))
	}
	return errs
}

// hostnameRE is a DNS name: dot-separated labels of letters, digits and inner hyphens.
var hostnameRE = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*$`)

// validateNATSServerTLS checks audit.nats.ca_file and server_name, which choose how an
// ordinary TLS server is verified, and loads the CA bundle into RootCAs. tlsURL says
// whether audit.nats.url is a valid tls:// URL.
func (c *Config) validateNATSServerTLS(tlsURL bool) []error {
	var errs []error
	n := &c.Audit.NATS
	n.RootCAs = nil
	for _, k := range []struct{ key, value string }{{"ca_file", n.CAFile}, {"server_name", n.ServerName}} {
		switch {
		case k.value == "":
		case n.ServerID != "":
			errs = append(errs, c.errAt("audit.nats."+k.key, "cannot be combined with audit.nats.server_id: the server is verified either as a SPIFFE ID against the trust bundle or as a TLS server name against CAs, not both"))
		case !tlsURL:
			errs = append(errs, c.errAt("audit.nats."+k.key, "needs a tls:// audit.nats.url: over nats:// the server is not verified"))
		}
	}
	if s := n.ServerName; s != "" && net.ParseIP(s) == nil && (len(s) > 253 || !hostnameRE.MatchString(s)) {
		errs = append(errs, c.errAt("audit.nats.server_name", "want a DNS name or IP address such as nats.example.com, got %q", s))
	}
	if n.CAFile != "" {
		pool, err := cabundle.Load(n.CAFile)
		if err != nil {
			return append(errs, c.errAt("audit.nats.ca_file", "%v", err))
		}
		n.RootCAs = pool
	}
	return errs
}
