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

	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/tokenize"
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
	pg      *pgStore           // renews the postgres credential; nil on SQLite
	fields  fieldcrypt.Fields  // accounts: seals PII columns
	tokens  tokenize.Tokenizer // payments: turns card numbers into tokens
	webhook webhookSigner      // payments: signs notification events (webhook.go)

	// postMu serializes the ledger's postings within this process, so concurrent postings
	// queue here instead of polling SQLite's busy handler; BEGIN IMMEDIATE still guards
	// against other processes.
	postMu sync.Mutex
}

// service is what differs between the bank's services.
type service struct {
	schema []string
	seed   func(*App, *sql.Tx) error
	// upgrade runs after every migration: it brings data written by an older version up
	// to date (accounts seals PII an older version stored in clear).
	upgrade   func(*App, context.Context) error
	routes    func(a *App, mux *http.ServeMux)
	needsMesh bool
	needsKeys bool // seals fields: cannot seed or upgrade without its field keys
}

// services is the one table of the bank's services.
var services = map[string]service{
	"accounts":      {schema: accountsSchema, seed: (*App).seedAccountsDB, upgrade: (*App).sealClearProfiles, routes: (*App).accountsRoutes, needsMesh: true, needsKeys: true},
	"payments":      {schema: paymentsSchema, seed: func(_ *App, tx *sql.Tx) error { return seedPaymentsDB(tx) }, routes: (*App).paymentsRoutes, needsMesh: true},
	"ledger":        {schema: ledgerSchema, seed: func(_ *App, tx *sql.Tx) error { return seedLedgerDB(tx) }, routes: (*App).ledgerRoutes},
	"notifications": {schema: notificationsSchema, routes: (*App).notificationsRoutes},
}

// New opens (creating and seeding idempotently on first run) <dataDir>/<name>.db and
// returns the service. mesh is the client for outbound calls (see MeshClient); accounts and
// payments need one, ledger and notifications call nobody and ignore it. Accounts' field
// keys and payments' tokens come from the control plane through the same mesh client
// (http://bulwark/v1/...); Open can supply them otherwise.
func New(name, dataDir string, mesh *http.Client, log *slog.Logger) (*App, error) {
	return Open(Options{Name: name, DataDir: dataDir, Mesh: mesh, Log: log})
}

// Open is New with every dependency explicit.
func Open(o Options) (*App, error) {
	name, mesh, log := o.Name, o.Mesh, o.Log
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
	a := &App{name: name, mesh: mesh, log: log.With("service", name)}
	var err error
	if a.db, a.pg, err = o.openStore(a.log); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	db := a.db
	a.fields, a.tokens = o.dataProtection()
	if svc.needsKeys {
		if err := o.waitForKeys(context.Background(), a.fields, a.log); err != nil {
			a.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	var seed func(*sql.Tx) error
	if svc.seed != nil {
		seed = func(tx *sql.Tx) error { return svc.seed(a, tx) }
	}
	if err := migrate(context.Background(), db, svc.schema, seed, a.pg != nil); err != nil {
		a.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if svc.upgrade != nil {
		if err := svc.upgrade(a, context.Background()); err != nil {
			a.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	mux := http.NewServeMux()
	svc.routes(a, mux)
	mux.Handle("/", a.handle(notFoundHandler))
	a.handler = proxy.RequestID(true)(withTraceContext(mux))
	return a, nil
}

// Name returns the service's name.
func (a *App) Name() string { return a.name }

// Handler returns the service's HTTP API. It trusts the identity headers: serve it only
// where the service's own sidecar is the sole client (a unix socket only it can reach).
func (a *App) Handler() http.Handler { return a.handler }

// Close stops renewing the service's database credential and closes its database.
func (a *App) Close() error {
	if a.pg != nil {
		a.pg.close()
	}
	return a.db.Close()
}
