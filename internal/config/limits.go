package config

import (
	"fmt"
	"strings"
	"time"
)

// Edge limit defaults: what a gateway that configures no gateway.limits enforces.
const (
	DefaultMaxHeaderBytes          = 64 << 10
	DefaultMaxURLBytes             = 8 << 10
	DefaultMaxBodyBytes            = 1 << 20
	DefaultReadHeaderTimeout       = 10 * time.Second
	DefaultReadTimeout             = 30 * time.Second
	DefaultWriteTimeout            = 60 * time.Second
	DefaultIdleTimeout             = 120 * time.Second
	DefaultHTTP2MaxStreams         = 100
	minMaxHeaderBytes              = 4 << 10
	maxMaxHeaderBytes              = 1 << 20
	minMaxURLBytes                 = 256
	maxMaxBodyBytes          int64 = 1 << 30
	minTimeout                     = 100 * time.Millisecond
	maxReadHeaderTimeout           = 5 * time.Minute
	maxTimeout                     = time.Hour
	minIdleTimeout                 = time.Second
	maxHTTP2Streams                = 1000
)

// Limits bounds what one client can make the gateway hold: bytes of a request and time
// on a connection. Every limit answers with a JSON error where HTTP allows one; the
// timeouts close the connection.
type Limits struct {
	// MaxHeaderBytes caps the request line and headers together; more gets 431
	// (header_too_large). The server stops reading at twice this size and answers Go's
	// plain 431 instead, closing the connection. HTTP/2 clients are told the same limit
	// (SETTINGS_MAX_HEADER_LIST_SIZE). Default 65536 (64 KiB), between 4096 and 1048576.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxURLBytes caps the request target (path and query, as sent); longer gets 414
	// (uri_too_long). Default 8192, at least 256 and at most max_header_bytes.
	MaxURLBytes int `yaml:"max_url_bytes"`
	// MaxBodyBytes caps request bodies; larger gets 413 (payload_too_large): at once when
	// Content-Length says so, while streaming otherwise. gateway.routes[].max_body_bytes
	// overrides it per route. Default 1048576 (1 MiB), between 1 and 1073741824 (1 GiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadHeaderTimeout bounds the TLS handshake plus the request line and headers; a
	// client that is slower (slowloris) is disconnected. Default 10s, between 100ms and 5m.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included (slow bodies). Default
	// 30s, at least read_header_timeout and at most 1h.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request from the end of its headers to the end of its
	// response. Default 60s, between 100ms and 1h, and at least every
	// services[].resilience.timeout (so that a 504 can still be written).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection (HTTP/1.1 or HTTP/2) with no request for
	// this long. Default 120s, between 1s and 1h.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// HTTP2MaxConcurrentStreams is how many requests one HTTP/2 connection may have open
	// at once (SETTINGS_MAX_CONCURRENT_STREAMS). Default 100, between 1 and 1000.
	HTTP2MaxConcurrentStreams int `yaml:"http2_max_concurrent_streams"`
}

// applyLimitDefaults fills gateway.limits. As for resilience, a key written with a zero
// value is kept so that validation refuses it; a route's max_body_bytes left out means the
// gateway's.
func (c *Config) applyLimitDefaults() {
	l := &c.Gateway.Limits
	const p = "gateway.limits."
	setInt := func(v *int, key string, def int) {
		if *v == 0 && !c.written(p+key) {
			*v = def
		}
	}
	setDur := func(v *time.Duration, key string, def time.Duration) {
		if *v == 0 && !c.written(p+key) {
			*v = def
		}
	}
	setInt(&l.MaxHeaderBytes, "max_header_bytes", DefaultMaxHeaderBytes)
	setInt(&l.MaxURLBytes, "max_url_bytes", DefaultMaxURLBytes)
	if l.MaxBodyBytes == 0 && !c.written(p+"max_body_bytes") {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	setDur(&l.ReadHeaderTimeout, "read_header_timeout", DefaultReadHeaderTimeout)
	setDur(&l.ReadTimeout, "read_timeout", DefaultReadTimeout)
	setDur(&l.WriteTimeout, "write_timeout", DefaultWriteTimeout)
	setDur(&l.IdleTimeout, "idle_timeout", DefaultIdleTimeout)
	setInt(&l.HTTP2MaxConcurrentStreams, "http2_max_concurrent_streams", DefaultHTTP2MaxStreams)
}

// RouteMaxBodyBytes returns route i's body limit: its own max_body_bytes, or the gateway's.
func (c *Config) RouteMaxBodyBytes(i int) int64 {
	if n := c.Gateway.Routes[i].MaxBodyBytes; n != 0 {
		return n
	}
	return c.Gateway.Limits.MaxBodyBytes
}

// validateLimits checks gateway.limits, the routes' max_body_bytes and case_insensitive.
func (c *Config) validateLimits() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	l := c.Gateway.Limits
	const p = "gateway.limits."
	headerOK := l.MaxHeaderBytes >= minMaxHeaderBytes && l.MaxHeaderBytes <= maxMaxHeaderBytes
	if !headerOK {
		add(p+"max_header_bytes", "must be between %d and %d bytes, got %d", minMaxHeaderBytes, maxMaxHeaderBytes, l.MaxHeaderBytes)
	}
	// Compared with max_header_bytes only when that one is valid: one mistake, one error.
	if l.MaxURLBytes < minMaxURLBytes || (headerOK && l.MaxURLBytes > l.MaxHeaderBytes) {
		add(p+"max_url_bytes", "must be between %d and max_header_bytes (%d) bytes, got %d", minMaxURLBytes, l.MaxHeaderBytes, l.MaxURLBytes)
	}
	if l.MaxBodyBytes < 1 || l.MaxBodyBytes > maxMaxBodyBytes {
		add(p+"max_body_bytes", "must be between 1 and %d bytes, got %d", maxMaxBodyBytes, l.MaxBodyBytes)
	}
	if l.ReadHeaderTimeout < minTimeout || l.ReadHeaderTimeout > maxReadHeaderTimeout {
		add(p+"read_header_timeout", "must be between %s and %s, got %s", minTimeout, maxReadHeaderTimeout, l.ReadHeaderTimeout)
	}
	if l.ReadTimeout < max(l.ReadHeaderTimeout, minTimeout) || l.ReadTimeout > maxTimeout {
		add(p+"read_timeout", "must be at least read_header_timeout (%s) and at most %s, got %s", l.ReadHeaderTimeout, maxTimeout, l.ReadTimeout)
	}
	if l.WriteTimeout < minTimeout || l.WriteTimeout > maxTimeout {
		add(p+"write_timeout", "must be between %s and %s, got %s", minTimeout, maxTimeout, l.WriteTimeout)
	} else {
		for i, s := range c.Services {
			// An out-of-range timeout has its own error already.
			if s.Resilience.Timeout > l.WriteTimeout && s.Resilience.Timeout <= maxUpstreamTimeout {
				add(p+"write_timeout", "%s is shorter than services[%d].resilience.timeout (%s): the client would be cut off before the gateway's 504", l.WriteTimeout, i, s.Resilience.Timeout)
			}
		}
	}
	if l.IdleTimeout < minIdleTimeout || l.IdleTimeout > maxTimeout {
		add(p+"idle_timeout", "must be between %s and %s, got %s", minIdleTimeout, maxTimeout, l.IdleTimeout)
	}
	if l.HTTP2MaxConcurrentStreams < 1 || l.HTTP2MaxConcurrentStreams > maxHTTP2Streams {
		add(p+"http2_max_concurrent_streams", "must be between 1 and %d, got %d", maxHTTP2Streams, l.HTTP2MaxConcurrentStreams)
	}
	for i, r := range c.Gateway.Routes {
		rp := fmt.Sprintf("gateway.routes[%d]", i)
		if c.written(rp+".max_body_bytes") && (r.MaxBodyBytes < 1 || r.MaxBodyBytes > maxMaxBodyBytes) {
			add(rp+".max_body_bytes", "must be between 1 and %d bytes, got %d", maxMaxBodyBytes, r.MaxBodyBytes)
		}
		// A case-insensitive route matches the lower-cased path, so an upper-case letter
		// in its pattern could never match: refuse the typo instead of a dead route.
		if r.CaseInsensitive && r.Path != strings.ToLower(r.Path) {
			add(rp+".path", "a case_insensitive route matches lower-cased paths: write its pattern in lower case (%q)", strings.ToLower(r.Path))
		}
	}
	return errs
}
