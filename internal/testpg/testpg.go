// Package testpg gives tests the real PostgreSQL server: its admin DSN (from
// $BULWARK_TEST_POSTGRES_DSN, default the local server with trust auth), and a unique name
// prefix per test whose databases and roles are all dropped when the test ends. Without a
// server, a test fails when CI is "true" and skips loudly otherwise.
package testpg

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the local server .ci/run starts.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// AdminDSN returns the admin connection string of the test server after checking that it
// answers.
func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("BULWARK_TEST_POSTGRES_DSN")
	if dsn == "" {
		dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI (BULWARK_TEST_POSTGRES_DSN or %s): %v", DefaultDSN, err)
		}
		t.Skipf("SKIPPING: no PostgreSQL server (%v); set BULWARK_TEST_POSTGRES_DSN or run .ci/run", err)
	}
	c.Close(ctx)
	return dsn
}

// Prefix returns a fresh name prefix ("bt" and 8 random characters) and drops every
// database and role starting with it when the test ends.
func Prefix(t testing.TB, adminDSN string) string {
	t.Helper()
	p := "bt" + strings.ToLower(rand.Text()[:8])
	t.Cleanup(func() {
		if err := Drop(context.Background(), adminDSN, p); err != nil {
			t.Errorf("clean up postgres objects %s_*: %v", p, err)
		}
	})
	return p
}

// Drop drops every database, then every role, whose name starts with prefix+"_".
func Drop(ctx context.Context, adminDSN, prefix string) error {
	c, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	names := func(q string) ([]string, error) {
		rows, err := c.Query(ctx, q, prefix+"_")
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	dbs, err := names(`SELECT datname FROM pg_database WHERE starts_with(datname, $1)`)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{db}.Sanitize()+` WITH (FORCE)`); err != nil {
			return err
		}
	}
	// Login roles before the owner roles they are members of.
	roles, err := names(`SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolcanlogin DESC, rolname`)
	if err != nil {
		return err
	}
	for _, r := range roles {
		if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, r); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `DROP ROLE IF EXISTS `+pgx.Identifier{r}.Sanitize()); err != nil {
			return err
		}
	}
	return nil
}
