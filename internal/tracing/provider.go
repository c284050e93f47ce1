package tracing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bulwark-security/bulwark/internal/config"
)

// exportTimeout bounds one OTLP export; spans are sent from a background batch, never on
// the request path.
const exportTimeout = 10 * time.Second

// NewProvider returns a tracer provider for the role named service ("gateway",
// "sidecar/accounts") that exports to cfg.OTLPEndpoint over OTLP/HTTP (protobuf) in
// batches. Sampling is parent-based: a trace started here is kept with probability
// cfg.SampleRatio, one continued from a caller follows the caller's decision. Headers for
// the collector (an API key) can come from OTEL_EXPORTER_OTLP_TRACES_HEADERS, never from
// bulwark.yaml. Call Shutdown on the provider to flush it.
func NewProvider(ctx context.Context, cfg config.Tracing, service string) (*sdktrace.TracerProvider, error) {
	if !cfg.Enabled() {
		return nil, errors.New("tracing: no otlp_endpoint configured")
	}
	exp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(cfg.ExportURL()),
		otlptracehttp.WithTimeout(exportTimeout))
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(Resource(service)),
	), nil
}

// Resource describes a role: service.name is the role ("gateway", "sidecar/ledger"),
// service.namespace "bulwark".
func Resource(service string) *resource.Resource {
	return resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.namespace", "bulwark"),
	)
}
