package bank

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// Services are the bank's services, in the order `bulwark up` starts them.
var Services = []string{"accounts", "payments", "ledger", "notifications"}

// App is one of the bank's services: its datastore and its HTTP API.
type App struct {
	name    string
	db      *sql.DB
	mesh    *http.Client
	log     *slog.Logger
	handler http.Handler

	// postMu serializes the ledger's postings within this process, so concurrent postings
	// queue here instead of polling SQLite's busy handler; BEGIN IMMEDIATE still guards
	// against other processes.
	postMu sync.Mutex
}

// service is what differs between the bank's services.
type service struct {
	schema    []string
	seed      func(*sql.Tx) error
	routes    func(a *App, mux *http.ServeMux)
	needsMesh bool
}

// services is the one table of the bank's services.
var services = map[string]service{
	"accounts":      {schema: accountsSchema, seed: seedAccountsDB, routes: (*App).accountsRoutes, needsMesh: true},
	"payments":      {schema: paymentsSchema, seed: seedPaymentsDB, routes: (*App).paymentsRoutes, needsMesh: true},
	"ledger":        {schema: ledgerSchema, seed: seedLedgerDB, routes: (*App).ledgerRoutes},
	"notifications": {schema: notificationsSchema, routes: (*App).notificationsRoutes},
}

// New opens (creating and seeding idempotently on first run) <dataDir>/<name>.db and
// returns the service. mesh is the client for outbound calls (see MeshClient); accounts and
// payments need one, ledger and notifications call nobody and ignore it.
func New(name, dataDir string, mesh *http.Client, log *slog.Logger) (*App, error) {
	svc, ok := services[name]
	if !ok || !slices.Contains(Services, name) {
		return nil, fmt.Errorf("unknown bank service %q", name)
	}
	if svc.needsMesh && mesh == nil {
		return nil, fmt.Errorf("bank service %q calls other services: it needs a mesh client", name)
	}
	if !svc.needsMesh {
		mesh = nil // calls nobody: keep it that way
	}
	if log == nil {
		return nil, errors.New("bank: nil logger")
	}
	db, err := openDB(dataDir, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := migrate(context.Background(), db, svc.schema, svc.seed); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	a := &App{name: name, db: db, mesh: mesh, log: log.With("service", name)}
	mux := http.NewServeMux()
	svc.routes(a, mux)
	mux.Handle("/", a.handle(notFoundHandler))
	a.handler = proxy.RequestID(true)(mux)
	return a, nil
}

// Name returns the service's name.
func (a *App) Name() string { return a.name }

// Handler returns the service's HTTP API. It trusts the identity headers: serve it only
// where the service's own sidecar is the sole client (a unix socket only it can reach).
func (a *App) Handler() http.Handler { return a.handler }

// Close closes the service's database.
func (a *App) Close() error { return a.db.Close() }
