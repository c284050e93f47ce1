package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const storeBase = `trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
`

func TestStoreDefaultsToSQLite(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(storeBase))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.StoreOf("accounts"); got != StoreSQLite {
		t.Errorf("StoreOf(accounts): got %q, want %q", got, StoreSQLite)
	}
	if got := c.PostgresServices(); len(got) != 0 {
		t.Errorf("PostgresServices: got %v, want none", got)
	}
	if p := c.Postgres; p.Prefix != "bulwark" || p.CredentialTTL != time.Hour {
		t.Errorf("postgres defaults: got %+v", p)
	}
}

func TestStorePostgresGlobalAndPerService(t *testing.T) {
	c, err := Parse("bulwark.yaml", []byte(`trust_domain: bank.local
store: postgres
postgres:
  admin_dsn_file: /run/secrets/pg-admin
  prefix: bank_demo
  credential_ttl: 10m
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: ledger
    upstream: unix:ledger.sock
    store: sqlite
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.PostgresServices(), []string{"accounts"}; !slices.Equal(got, want) {
		t.Errorf("PostgresServices: got %v, want %v", got, want)
	}
	if got := c.StoreOf("ledger"); got != StoreSQLite {
		t.Errorf("StoreOf(ledger): got %q, want sqlite", got)
	}
	if c.Postgres.CredentialTTL != 10*time.Minute || c.Postgres.Prefix != "bank_demo" {
		t.Errorf("postgres: got %+v", c.Postgres)
	}
}

func TestStoreErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown store", "store: mysql\n", []string{`bulwark.yaml:1: store: want "sqlite" or "postgres", got "mysql"`}},
		{"postgres without dsn file", "store: postgres\n", []string{"postgres.admin_dsn_file: required when a service's store is postgres"}},
		{"inline dsn refused", "postgres:\n  admin_dsn: postgres://u:p@h/db\n", []string{"bulwark.yaml:2: postgres.admin_dsn: unknown key"}},
		{"bad prefix and ttl", "store: postgres\npostgres:\n  admin_dsn_file: f\n  prefix: Bad-Prefix\n  credential_ttl: 5s\n",
			[]string{`bulwark.yaml:4: postgres.prefix: want [a-z][a-z0-9_]{0,19}, got "Bad-Prefix"`, "bulwark.yaml:5: postgres.credential_ttl: must be between 30s and 24h, got 5s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("bulwark.yaml", []byte(tt.yaml+storeBase[len("trust_domain: bank.local\n"):]+"trust_domain: bank.local\n"))
			if err == nil {
				t.Fatal("got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	t.Run("per-service store", func(t *testing.T) {
		_, err := Parse("bulwark.yaml", []byte(storeBase+"    store: mongo\n"))
		if err == nil || !strings.Contains(err.Error(), `bulwark.yaml:7: services[1].store: want "sqlite" or "postgres", got "mongo"`) {
			t.Errorf("got %v", err)
		}
	})
}
