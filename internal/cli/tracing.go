package cli

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/tracing"
)

// traceFlushTimeout bounds the export of the spans still buffered at shutdown.
const traceFlushTimeout = 5 * time.Second

// otelErrors routes the OpenTelemetry SDK's errors (a collector that is down) to the first
// role's JSON log instead of the standard logger; the handler is process-wide.
var otelErrors sync.Once

// newRoleTracer returns the tracer of role ("gateway", "sidecar/ledger") and flush, which
// exports its buffered spans; nil and a no-op flush when tracing is off. Each role gets
// its own provider so that its spans carry its own service.name, also under `up`.
func newRoleTracer(ctx context.Context, cfg *config.Config, role string, log *slog.Logger) (_ *tracing.Tracer, flush func() error, _ error) {
	if !cfg.Tracing.Enabled() {
		return nil, func() error { return nil }, nil
	}
	tp, err := tracing.NewProvider(ctx, cfg.Tracing, role)
	if err != nil {
		return nil, nil, err
	}
	otelErrors.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("trace export failed", slog.String("error", err.Error()))
		}))
	})
	return tracing.New(tp), func() error {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
		defer cancel()
		return tp.Shutdown(fctx)
	}, nil
}
