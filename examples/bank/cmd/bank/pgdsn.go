package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/examples/bank"
	"github.com/bulwark-security/bulwark/internal/dbcreds"
)

// fileDBCredentials is the credential of -unsafe-postgres-dsn-file: the connection string
// in path, read at start and again at every renewal (each read is treated as valid for an
// hour, so a replaced file is picked up within 40 minutes and old connections are dropped).
//
// It exists so the bank can run on PostgreSQL without the control plane, as a benchmark
// baseline. It is unsafe anywhere else: the credential is long-lived, nothing rotates or
// revokes it, and nothing confines it to this service's own database.
func fileDBCredentials(path string) bank.DBCredentials {
	return func(context.Context) (dbcreds.Creds, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return dbcreds.Creds{}, fmt.Errorf("-unsafe-postgres-dsn-file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil || dsn == "" {
			// Never quote the file or pgx's message: either could hold the password.
			return dbcreds.Creds{}, errors.New("-unsafe-postgres-dsn-file: not a PostgreSQL connection string")
		}
		return dbcreds.Creds{Username: cfg.User, Password: cfg.Password, Database: cfg.Database, DSN: dsn,
			ExpiresAt: time.Now().Add(time.Hour)}, nil
	}
}
