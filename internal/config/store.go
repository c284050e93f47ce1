package config

import (
	"fmt"
	"regexp"
	"time"
)

// Datastores a service's app keeps its data in (store, services[].store).
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Postgres configures the PostgreSQL server the control plane gives each service with
// store: postgres its own database, and the short-lived credentials it issues for it
// (POST http://bulwark/v1/db/creds through the service's sidecar), like Vault's database
// secrets engine.
type Postgres struct {
	// AdminDSNFile holds the control plane's admin connection string, a URL
	// (postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=…). The role needs CREATEDB,
	// CREATEROLE and membership in pg_signal_backend (or is a superuser). Services reach
	// the same host, port and parameters with their own credentials. Required with any
	// service on postgres; the connection string is never written in this file.
	AdminDSNFile string `yaml:"admin_dsn_file"`
	// Prefix starts the name of every database and role the control plane creates:
	// database <prefix>_<service>, owner role <prefix>_<service>_owner (NOLOGIN), issued
	// login roles <prefix>_<service>_c_<random>. [a-z][a-z0-9_]{0,19}. Default "bulwark".
	Prefix string `yaml:"prefix"`
	// CredentialTTL is how long an issued role may log in: PostgreSQL refuses its password
	// after VALID UNTIL, and the control plane's reaper terminates its sessions and drops it
	// (which is what enforces the TTL when pg_hba.conf trusts local connections). Apps
	// renew at two thirds of it. Default 1h, minimum 30s, maximum 24h.
	CredentialTTL time.Duration `yaml:"credential_ttl"`
}

// prefixRE keeps generated identifiers short enough for PostgreSQL's 63-byte names.
var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,19}$`)

// maxPostgresServiceName keeps <prefix>_<service>_c_<16 chars> within 63 bytes.
const maxPostgresServiceName = 63 - 20 - 1 - 3 - 16

// StoreOf returns the datastore of the named service: its own store, else the top-level
// store. Call it on a validated config.
func (c *Config) StoreOf(name string) string {
	for _, s := range c.Services {
		if s.Name == name && s.Store != "" {
			return s.Store
		}
	}
	return c.Store
}

// PostgresServices returns the names of the services whose store is postgres.
func (c *Config) PostgresServices() []string {
	var out []string
	for _, s := range c.Services {
		if c.StoreOf(s.Name) == StorePostgres {
			out = append(out, s.Name)
		}
	}
	return out
}

func (c *Config) applyStoreDefaults() {
	if c.Store == "" {
		c.Store = StoreSQLite
	}
	if c.Postgres.Prefix == "" {
		c.Postgres.Prefix = "bulwark"
	}
	if c.Postgres.CredentialTTL == 0 {
		c.Postgres.CredentialTTL = time.Hour
	}
}

func (c *Config) validateStore() []error {
	var errs []error
	validStore := func(path, v string) {
		if v != StoreSQLite && v != StorePostgres {
			errs = append(errs, c.errAt(path, "want %q or %q, got %q", StoreSQLite, StorePostgres, v))
		}
	}
	validStore("store", c.Store)
	for i, s := range c.Services {
		if s.Store == "" {
			continue
		}
		validStore(fmt.Sprintf("services[%d].store", i), s.Store)
	}
	pg := c.Postgres
	if !prefixRE.MatchString(pg.Prefix) {
		errs = append(errs, c.errAt("postgres.prefix", "want [a-z][a-z0-9_]{0,19}, got %q", pg.Prefix))
	}
	if pg.CredentialTTL < 30*time.Second || pg.CredentialTTL > 24*time.Hour {
		errs = append(errs, c.errAt("postgres.credential_ttl", "must be between 30s and 24h, got %s", pg.CredentialTTL))
	}
	onPostgres := c.PostgresServices()
	if len(onPostgres) > 0 && pg.AdminDSNFile == "" {
		errs = append(errs, c.errAt("postgres.admin_dsn_file", "required when a service's store is postgres (the connection string itself is never put in the config)"))
	}
	for i, s := range c.Services {
		if c.StoreOf(s.Name) == StorePostgres && len(s.Name) > maxPostgresServiceName {
			errs = append(errs, c.errAt(fmt.Sprintf("services[%d].name", i), "at most %d characters with store: postgres (PostgreSQL role names), got %d", maxPostgresServiceName, len(s.Name)))
		}
	}
	return errs
}
