package config

import (
	"math"
	"net/url"
)

// DefaultOTLPTracesPath is the OTLP/HTTP traces path, used when otlp_endpoint has none.
const DefaultOTLPTracesPath = "/v1/traces"

// Tracing configures OpenTelemetry traces across the gateway and the sidecars. Without an
// otlp_endpoint tracing is off: no span is started, no trace id is made up, and a request
// pays nothing for it.
type Tracing struct {
	// OTLPEndpoint is the OTLP/HTTP collector URL spans are exported to, e.g.
	// "https://otel-collector:4318" (path default /v1/traces). Setting it turns tracing
	// on. An http:// URL is accepted only for a loopback host unless
	// unsafe_plaintext_export is set; user info and query strings are refused, since a
	// credential there would end up in config dumps. Default: none (tracing off).
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of traces started at the gateway that are recorded and
	// exported, between 0 and 1. Every hop after the edge follows the decision carried in
	// the traceparent it receives, so a trace is exported whole or not at all. Unsampled
	// requests still get a trace id (in audit events and access logs). Default 1.
	SampleRatio float64 `yaml:"sample_ratio"`
	// TrustClientTraceContext makes the gateway continue a trace the client started (its
	// traceparent and tracestate headers). Default false: at the edge the client is not
	// authenticated yet, and a trusted traceparent would let it choose the trace id that
	// audit events and logs are correlated by (and the sampling decision), so the gateway
	// drops the client's trace headers and starts a new trace. Sidecars always continue
	// the trace of their mTLS-authenticated peer, and of their own app.
	TrustClientTraceContext bool `yaml:"trust_client_trace_context"`
	// UnsafePlaintextExport allows an http:// otlp_endpoint on a non-loopback host, which
	// sends span data (paths, routes, services) over the network in clear. Default false.
	UnsafePlaintextExport bool `yaml:"unsafe_plaintext_export"`
}

// Enabled reports whether traces are recorded at all.
func (t Tracing) Enabled() bool { return t.OTLPEndpoint != "" }

// ExportURL returns otlp_endpoint with the default path filled in; "" when tracing is off.
func (t Tracing) ExportURL() string {
	u, err := url.Parse(t.OTLPEndpoint)
	if t.OTLPEndpoint == "" || err != nil {
		return ""
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = DefaultOTLPTracesPath
	}
	return u.String()
}

func (c *Config) applyTracingDefaults() {
	if c.Tracing.SampleRatio == 0 && !c.written("tracing.sample_ratio") {
		c.Tracing.SampleRatio = 1
	}
}

func (c *Config) validateTracing() []error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, c.errAt(path, format, args...)) }
	t := c.Tracing
	if r := t.SampleRatio; math.IsNaN(r) || r < 0 || r > 1 {
		add("tracing.sample_ratio", "must be between 0 and 1, got %g", r)
	}
	if t.OTLPEndpoint == "" {
		for _, k := range []string{"sample_ratio", "trust_client_trace_context", "unsafe_plaintext_export"} {
			if c.written("tracing." + k) {
				add("tracing."+k, "has no effect without tracing.otlp_endpoint")
			}
		}
		return errs
	}
	u, err := url.Parse(t.OTLPEndpoint)
	switch {
	case err != nil:
		add("tracing.otlp_endpoint", "not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		add("tracing.otlp_endpoint", "want an http:// or https:// URL, got scheme %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		add("tracing.otlp_endpoint", "has no host")
	case u.User != nil:
		add("tracing.otlp_endpoint", "must not carry user info")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		add("tracing.otlp_endpoint", "must not carry a query string or fragment")
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()) && !t.UnsafePlaintextExport:
		add("tracing.otlp_endpoint", "http:// to a non-loopback host sends spans in clear; use https:// or set tracing.unsafe_plaintext_export")
	}
	return errs
}
