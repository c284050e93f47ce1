// Command bank runs one service of the reference bank on its own, for Compose, Kubernetes or
// a developer's shell (`bulwark up` runs all four in-process instead):
//
//	bank -service accounts -listen unix:/run/bank/accounts.sock -mesh /run/bank/accounts-out.sock -data /var/lib/bank
//
// It listens on a unix socket (made 0600) — the service trusts identity headers, so its sidecar
// must be its sole client — and stops gracefully on SIGINT/SIGTERM. A loopback TCP address
// needs -unsafe-loopback-tcp: any local process could then call the service with forged
// identity headers, which is acceptable for a benchmark and nothing else. Likewise
// -unsafe-local-keys DIR lets accounts seal its PII with keys made under DIR in this process
// instead of asking the control plane through its sidecar, so the app can run alone as a
// benchmark baseline that still does a real request's crypto.
//
// The service keeps its data in <-data>/<service>.db (SQLite) by default. With -store
// postgres it uses its own PostgreSQL database instead, as `bulwark up` does for a service
// with store: postgres: it gets short-lived credentials from the control plane through its
// sidecar (-mesh, POST http://bulwark/v1/db/creds), renews them at two thirds of their life,
// and never sees another service's database. The control plane must run with store:
// postgres for the service and postgres.admin_dsn_file set:
//
//	bank -service ledger -listen unix:/run/bank/ledger.sock -mesh /run/bank/ledger-out.sock -store postgres
//
// -unsafe-postgres-dsn-file FILE logs in with the connection string in FILE instead (a
// postgres:// URL with the password, read from a file like postgres.admin_dsn_file and
// never from a flag or the environment; re-read at every renewal), so the app can run
// without the control plane, as a benchmark baseline: a long-lived credential that nothing
// rotates, revokes or confines to the service's own database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bulwark-security/bulwark/examples/bank"
	"github.com/bulwark-security/bulwark/internal/redact"
)

// shutdownTimeout bounds the graceful shutdown on SIGINT/SIGTERM.
const shutdownTimeout = 10 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("bank", flag.ContinueOnError)
	flags.SetOutput(stderr)
	service := flags.String("service", "", "service to run: "+strings.Join(bank.Services, ", "))
	listen := flags.String("listen", "", "where to serve: unix:PATH (or 127.0.0.1:PORT with -unsafe-loopback-tcp)")
	loopbackTCP := flags.Bool("unsafe-loopback-tcp", false, "allow -listen on a loopback TCP port, reachable by every local process (benchmarks only)")
	mesh := flags.String("mesh", "", "the sidecar's outbound unix socket (accounts and payments)")
	data := flags.String("data", "", "directory for the service's SQLite database (made 0700); required with -store sqlite")
	localKeys := flags.String("unsafe-local-keys", "", "accounts: seal PII with keys made and kept under this directory (0700) instead of the control plane's (benchmarks and tests only: the service then holds key material)")
	store := flags.String("store", bank.StoreSQLite, "where the service keeps its data: sqlite (<data>/<service>.db) or postgres (its own database, with short-lived credentials from the control plane through -mesh, as `bulwark up` does with store: postgres)")
	dsnFile := flags.String("unsafe-postgres-dsn-file", "", "with -store postgres: log in with the postgres:// URL in this file instead of the control plane's credentials (benchmarks and tests only: a long-lived credential nothing rotates, revokes or confines to this service)")
	if err := flags.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	log := slog.New(redact.NewHandler(slog.NewJSONHandler(stderr, nil))) // masks PII and secrets
	o := options{service: *service, mesh: *mesh, data: *data, localKeys: *localKeys, store: *store, dsnFile: *dsnFile}
	if err := serve(*listen, *loopbackTCP, o, log); err != nil {
		log.Error("bank stopped", "service", *service, "err", err)
		return 1
	}
	return 0
}

// options are what the flags say about the service to open.
type options struct {
	service   string
	mesh      string // the sidecar's outbound socket
	data      string // the SQLite directory
	localKeys string // -unsafe-local-keys
	store     string // bank.StoreSQLite or bank.StorePostgres
	dsnFile   string // -unsafe-postgres-dsn-file
}

func (o options) check() error {
	switch {
	case o.store != bank.StoreSQLite && o.store != bank.StorePostgres:
		return fmt.Errorf("-store %q: want %q or %q", o.store, bank.StoreSQLite, bank.StorePostgres)
	case o.store == bank.StoreSQLite && o.data == "":
		return errors.New("-data is required with -store sqlite")
	case o.dsnFile != "" && o.store != bank.StorePostgres:
		return errors.New("-unsafe-postgres-dsn-file needs -store postgres")
	case o.store == bank.StorePostgres && o.dsnFile == "" && o.mesh == "":
		return errors.New("-store postgres gets its credentials from the control plane through the sidecar: -mesh is required (or -unsafe-postgres-dsn-file)")
	}
	return nil
}

func serve(listen string, loopbackTCP bool, o options, log *slog.Logger) error {
	if err := o.check(); err != nil {
		return err
	}
	ln, err := listenLocal(listen, loopbackTCP)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveWith(ctx, ln, o, log)
}

// serveWith opens the service and serves it on ln until ctx ends.
func serveWith(ctx context.Context, ln net.Listener, o options, log *slog.Logger) error {
	if err := o.check(); err != nil {
		return err
	}
	service := o.service
	opts := bank.Options{Name: service, DataDir: o.data, Log: log, Store: o.store}
	if o.localKeys != "" {
		if service != "accounts" {
			return fmt.Errorf("-unsafe-local-keys: only accounts seals fields, not %q", service)
		}
		k, err := localFieldKeys(ctx, o.localKeys, service)
		if err != nil {
			return err
		}
		opts.Keys = k
		log.Warn("field keys are local (-unsafe-local-keys): this service holds key material and its key use is not audited; benchmarks and tests only")
	}
	if o.dsnFile != "" {
		opts.DBCreds = fileDBCredentials(o.dsnFile)
		log.Warn("postgres credential from a file (-unsafe-postgres-dsn-file): long-lived, not issued, rotated or revoked by the control plane; benchmarks and tests only")
	}
	if o.mesh != "" {
		opts.Mesh = bank.MeshClient(o.mesh)
	}
	app, err := bank.Open(opts)
	if err != nil {
		return err
	}
	defer app.Close()

	log.Info("bank service listening", "service", service, "listen", ln.Addr().String())
	if err := serveUntil(ctx, ln, app.Handler(), log); err != nil {
		return err
	}
	log.Info("bank service stopped", "service", service)
	return nil
}

// serveUntil serves h on ln until ctx ends, then shuts down gracefully: in-flight requests
// get up to shutdownTimeout to finish.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// listenLocal listens on "unix:PATH" (socket made 0600, a stale socket replaced) or, when
// loopbackTCP is set, on a loopback "IP:PORT"; anything else is refused, since the service
// trusts identity headers.
func listenLocal(addr string, loopbackTCP bool) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, errors.New("-listen unix: needs a path")
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == fs.ModeSocket {
			_ = os.Remove(path)
		}
		ln, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("listen: %w", err)
		}
		return ln, nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-listen %q: want unix:PATH or a loopback IP:PORT", addr)
	}
	if !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("-listen %q: refusing a non-loopback address (only the sidecar may reach the service)", addr)
	}
	if !loopbackTCP {
		return nil, fmt.Errorf("-listen %q: a TCP port is open to every local process, which could forge identity headers; use unix:PATH, or -unsafe-loopback-tcp for a benchmark", addr)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return ln, nil
}
