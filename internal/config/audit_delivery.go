package config

import (
	"net/url"
	"regexp"
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
	// URL of the NATS server, e.g. nats://127.0.0.1:4222. Required with transport nats.
	URL string `yaml:"url"`
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
	default:
		errs = append(errs, c.errAt("audit.transport", "must be %q or %q, got %q", AuditTransportHTTPS, AuditTransportNATS, a.Transport))
	}
	if !streamNameRE.MatchString(a.NATS.Stream) {
		errs = append(errs, c.errAt("audit.nats.stream", "must be 1 to 64 letters, digits, '_' or '-'"))
	}
	return errs
}
