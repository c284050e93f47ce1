package config

import (
	"strings"
	"testing"
)

func TestTracing(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tracing.Enabled() || c.Tracing.ExportURL() != "" {
		t.Errorf("default: got %+v, want tracing off", c.Tracing)
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"tracing:\n  otlp_endpoint: https://otel.example:4318\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Tracing.Enabled() || c.Tracing.SampleRatio != 1 || c.Tracing.TrustClientTraceContext || c.Tracing.ExportURL() != "https://otel.example:4318/v1/traces" {
		t.Errorf("defaults with an endpoint: got %+v, export %q", c.Tracing, c.Tracing.ExportURL())
	}
	c, err = Parse("bulwark.yaml", []byte(minimal+"tracing:\n  otlp_endpoint: http://127.0.0.1:4318/custom\n  sample_ratio: 0\n  trust_client_trace_context: true\n"))
	if err != nil || c.Tracing.SampleRatio != 0 || !c.Tracing.TrustClientTraceContext || c.Tracing.ExportURL() != "http://127.0.0.1:4318/custom" {
		t.Fatalf("set: got %+v, %v", c.Tracing, err)
	}

	tests := []struct {
		name, yaml, want string
	}{
		{"ratio above 1", "  otlp_endpoint: https://o:4318\n  sample_ratio: 1.5\n", "tracing.sample_ratio: must be between 0 and 1, got 1.5"},
		{"negative ratio", "  otlp_endpoint: https://o:4318\n  sample_ratio: -0.1\n", "tracing.sample_ratio: must be between 0 and 1"},
		{"NaN ratio", "  otlp_endpoint: https://o:4318\n  sample_ratio: .nan\n", "tracing.sample_ratio: must be between 0 and 1"},
		{"not http", "  otlp_endpoint: grpc://o:4317\n", `tracing.otlp_endpoint: want an http:// or https:// URL, got scheme "grpc"`},
		{"no host", "  otlp_endpoint: https:///v1/traces\n", "tracing.otlp_endpoint: has no host"},
		{"user info", "  otlp_endpoint: https://u:pw@o:4318\n", "tracing.otlp_endpoint: must not carry user info"},
		{"query", "  otlp_endpoint: https://o:4318/v1/traces?api_key=k\n", "tracing.otlp_endpoint: must not carry a query string"},
		{"plaintext off loopback", "  otlp_endpoint: http://otel.example:4318\n", "tracing.otlp_endpoint: http:// to a non-loopback host sends spans in clear"},
		{"settings without endpoint", "  sample_ratio: 0.5\n", "tracing.sample_ratio: has no effect without tracing.otlp_endpoint"},
		{"unknown key", "  otlp_endpoint: https://o:4318\n  headers: {x: y}\n", "headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(minimal+"tracing:\n"+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw@") || strings.Contains(err.Error(), "api_key=k") {
				t.Errorf("the error repeats a credential: %v", err)
			}
			if !strings.Contains(err.Error(), "bulwark.yaml:") {
				t.Errorf("the error names no line: %v", err)
			}
		})
	}
	if _, err := Parse("bulwark.yaml", []byte(minimal+"tracing:\n  otlp_endpoint: http://otel.example:4318\n  unsafe_plaintext_export: true\n")); err != nil {
		t.Errorf("unsafe_plaintext_export: got %v", err)
	}
}
