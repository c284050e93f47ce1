package dbcreds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// Defaults of Options.
const (
	DefaultReapInterval = 5 * time.Second
	// DefaultMaxLive bounds the unexpired credentials one service may hold, so a
	// compromised app cannot flood the server with roles.
	DefaultMaxLive = 10
	// connectionLimit bounds the sessions of one issued role.
	connectionLimit = 32
)

// Options configure an Engine.
type Options struct {
	// AdminDSN is the admin connection string, a postgres:// URL.
	AdminDSN string
	// Prefix starts every database and role name ([a-z][a-z0-9_]*).
	Prefix string
	// Services are the services that get a database.
	Services []string
	// TTL is the lifetime of an issued credential.
	TTL time.Duration
	// ReapInterval is how often Run revokes expired roles. Default DefaultReapInterval.
	ReapInterval time.Duration
	// MaxLive bounds each service's unexpired credentials. Default DefaultMaxLive.
	MaxLive int
	Audit   audit.Recorder
	Log     *slog.Logger
	// Now is the clock for VALID UNTIL and the reaper. Default time.Now.
	Now func() time.Time
}

// Engine creates the per-service databases and issues and revokes their credentials.
type Engine struct {
	o        Options
	admin    *pgxpool.Pool
	base     *url.URL // the admin URL without user, password and database
	services map[string]bool
	credRE   *regexp.Regexp
}

// Open connects to the server, creates what is missing of each service's database and
// owner role, and revokes the credentials a previous run left behind that have expired.
func Open(ctx context.Context, o Options) (*Engine, error) {
	if o.ReapInterval <= 0 {
		o.ReapInterval = DefaultReapInterval
	}
	if o.MaxLive <= 0 {
		o.MaxLive = DefaultMaxLive
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TTL <= 0 || o.Audit == nil || o.Log == nil {
		return nil, errors.New("dbcreds: TTL, Audit and Log are required")
	}
	if !prefixRE.MatchString(o.Prefix) {
		return nil, fmt.Errorf("dbcreds: invalid prefix %q", o.Prefix)
	}
	base, err := parseAdminURL(o.AdminDSN)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(o.AdminDSN)
	if err != nil {
		return nil, errors.New("postgres admin DSN: cannot parse it") // the parse error may quote the password
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres admin connection: %w", err)
	}
	e := &Engine{o: o, admin: pool, base: base, services: map[string]bool{},
		credRE: regexp.MustCompile(`^` + regexp.QuoteMeta(o.Prefix) + `_([a-z0-9-]+)_c_[a-z2-7]{16}$`)}
	for _, s := range o.Services {
		e.services[s] = true
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres admin connection: %w", err)
	}
	for _, s := range o.Services {
		if err := e.setup(ctx, s); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres database for %s: %w", s, err)
		}
	}
	if _, err := e.Reap(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return e, nil
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,19}$`)

// parseAdminURL checks that dsn is a postgres:// URL and returns it without its user,
// password and database: what a service's connection shares with the admin's.
func parseAdminURL(dsn string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(dsn))
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never quote dsn: it may hold the admin password.
		return nil, errors.New("postgres admin DSN: want a URL postgres://USER[:PASSWORD]@HOST:PORT/DB[?PARAMS]")
	}
	b := *u
	b.User, b.Path, b.RawPath = nil, "", ""
	return &b, nil
}

// Close closes the admin connections.
func (e *Engine) Close() { e.admin.Close() }

// DatabaseName, OwnerRole and credPrefix name a service's objects.
func (e *Engine) DatabaseName(service string) string { return e.o.Prefix + "_" + service }
func (e *Engine) OwnerRole(service string) string    { return e.o.Prefix + "_" + service + "_owner" }
func (e *Engine) credPrefix(service string) string   { return e.o.Prefix + "_" + service + "_c_" }

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// setup creates the service's owner role and database when missing and takes every
// privilege on them away from PUBLIC, so only the owner role's members may connect.
func (e *Engine) setup(ctx context.Context, service string) error {
	owner, db := e.OwnerRole(service), e.DatabaseName(service)
	var n int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, owner).Scan(&n); err != nil {
		return fmt.Errorf("look up owner role: %w", err)
	}
	if n == 0 {
		_, err := e.admin.Exec(ctx, `CREATE ROLE `+ident(owner)+` NOLOGIN NOINHERIT`)
		if err != nil && !isCode(err, "42710") { // created meanwhile by another control plane
			return fmt.Errorf("create owner role: %w", err)
		}
	}
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, db).Scan(&n); err != nil {
		return fmt.Errorf("look up database: %w", err)
	}
	if n == 0 {
		_, err := e.admin.Exec(ctx, `CREATE DATABASE `+ident(db)+` OWNER `+ident(owner)+` ENCODING 'UTF8' TEMPLATE template0`)
		if err != nil && !isCode(err, "42P04") {
			return fmt.Errorf("create database: %w", err)
		}
	}
	if _, err := e.admin.Exec(ctx, `REVOKE ALL ON DATABASE `+ident(db)+` FROM PUBLIC`); err != nil {
		return fmt.Errorf("revoke public access to the database: %w", err)
	}
	// The public schema is the database's own business: owned by the service, closed to
	// PUBLIC (PostgreSQL before 15 let everyone create there).
	return e.inDatabase(ctx, service, func(c *pgx.Conn) error {
		for _, stmt := range []string{
			`ALTER SCHEMA public OWNER TO ` + ident(owner),
			`REVOKE ALL ON SCHEMA public FROM PUBLIC`,
		} {
			if _, err := c.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("secure schema public: %w", err)
			}
		}
		return nil
	})
}

// inDatabase runs f on an admin connection to the service's database.
func (e *Engine) inDatabase(ctx context.Context, service string, f func(*pgx.Conn) error) error {
	cfg := e.admin.Config().ConnConfig.Copy()
	cfg.Database = e.DatabaseName(service)
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Database, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	return f(c)
}

func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}
