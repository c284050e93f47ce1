package config

import (
	"net/url"
	"regexp"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
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
	default:
		errs = append(errs, c.errAt("audit.transport", "must be %q or %q, got %q", AuditTransportHTTPS, AuditTransportNATS, a.Transport))
	}
	if !streamNameRE.MatchString(a.NATS.Stream) {
		errs = append(errs, c.errAt("audit.nats.stream", "must be 1 to 64 letters, digits, '_' or '-'"))
	}
	return errs
}
