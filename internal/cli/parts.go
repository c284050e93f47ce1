package cli

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bulwark-security/bulwark/internal/cabundle"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/redact"
)

// part is one long-running component.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// group runs parts under an errgroup: the first failure stops them all, and a stop because
// ctx ended is clean.
type group struct {
	g      *errgroup.Group
	ctx    context.Context
	cancel context.CancelFunc
}

func newGroup(ctx context.Context) *group {
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	return &group{g: g, ctx: gctx, cancel: cancel}
}

// abort stops the parts already started, waits for them, and returns err: for a setup
// step that fails after some parts run.
func (g *group) abort(err error) error {
	g.cancel()
	_ = g.g.Wait()
	return err
}

func (g *group) start(p part) {
	g.g.Go(func() error {
		if err := p.run(g.ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		return nil
	})
}

func (g *group) wait() error {
	defer g.cancel()
	return g.g.Wait()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(redact.NewHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))) // masks PII and secrets
}

// loadConfig loads the file and turns a config error into exit code 2.
func loadConfig(file string) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid config, nothing started:\n%w", err)}
	}
	return cfg, nil
}

// serveHTTP serves srv on ln until ctx ends, then shuts it down gracefully.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	<-errc
	return nil
}

// appServer is the http.Server for an app on its unix socket.
func appServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

func loadPool(file string) (*x509.CertPool, error) {
	pool, err := cabundle.Load(file)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	return pool, nil
}
