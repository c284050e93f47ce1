package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/examples/bank"
	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/dbcreds"
	"github.com/bulwark-security/bulwark/internal/testpg"
)

// discardAudit records nothing: these tests are about the bank's store; dbcreds tests its
// audit.
type discardAudit struct{}

func (discardAudit) Record(context.Context, audit.Event) error { return nil }

// serveLedger runs the ledger with o on a unix socket until the test ends, and returns a
// client of that socket.
func serveLedger(t *testing.T, dir string, o options) *http.Client {
	t.Helper()
	sock := filepath.Join(dir, "ledger.sock")
	ln, err := listenLocal("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveWith(ctx, ln, o, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveWith: %v", err)
		}
	})
	return bank.MeshClient(sock)
}

// getBalance asks the ledger for A-1001's balance until it answers (it starts in the
// background), and returns the body.
func getBalance(t *testing.T, c *http.Client) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := c.Get("http://ledger/balances/A-1001")
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("ledger did not answer: %v", err)
			}
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /balances/A-1001: %d %s", resp.StatusCode, body)
		}
		return string(body)
	}
}

// ledgerAccounts counts the ledger's accounts in database db of the test server.
func ledgerAccounts(t *testing.T, adminDSN, db string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, withDatabase(t, adminDSN, db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n); err != nil {
		t.Fatalf("count the ledger's accounts in %s: %v", db, err)
	}
	return n
}

func withDatabase(t *testing.T, dsn, db string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bankpg") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestStorePostgresThroughSidecar: `bank -store postgres -mesh SOCKET` gets its credential
// from the control plane's credential API behind its outbound socket (a real dbcreds engine
// on the real server; the test serves the API on the socket where the sidecar would relay
// it), keeps its data in its own database, and writes no SQLite file.
func TestStorePostgresThroughSidecar(t *testing.T) {
	dsn := testpg.AdminDSN(t)
	prefix := testpg.Prefix(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := dbcreds.Open(ctx, dbcreds.Options{AdminDSN: dsn, Prefix: prefix, Services: []string{"ledger"}, TTL: time.Minute,
		Audit: discardAudit{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	engDone := make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-engDone; eng.Close() })

	dir := shortDir(t)
	mesh := filepath.Join(dir, "ledger-out.sock")
	ln, err := net.Listen("unix", mesh)
	if err != nil {
		t.Fatal(err)
	}
	caller := func(*http.Request) (string, string, error) { return "ledger", "spiffe://bank.local/svc/ledger", nil }
	srv := &http.Server{Handler: dbcreds.Handler(eng, caller, slog.New(slog.DiscardHandler)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	data := filepath.Join(dir, "data")
	c := serveLedger(t, dir, options{service: "ledger", mesh: mesh, data: data, store: bank.StorePostgres})
	if body := getBalance(t, c); !strings.Contains(body, `"balance":100000`) {
		t.Errorf("balance = %s, want the seeded 100000", body)
	}
	if n := ledgerAccounts(t, dsn, eng.DatabaseName("ledger")); n == 0 {
		t.Errorf("the ledger's own database %s holds no accounts", eng.DatabaseName("ledger"))
	}
	if _, err := os.Stat(filepath.Join(data, "ledger.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ledger.db on postgres: %v, want no SQLite file", err)
	}
}

// TestStorePostgresFromDSNFile: `bank -store postgres -unsafe-postgres-dsn-file FILE` logs
// in with the URL in the file, without a control plane, and keeps its data there.
func TestStorePostgresFromDSNFile(t *testing.T) {
	dsn := testpg.AdminDSN(t)
	db := testpg.Prefix(t, dsn) + "_ledger" // dropped with the prefix
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{db}.Sanitize())
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	dsnFile := filepath.Join(dir, "ledger.dsn")
	if err := os.WriteFile(dsnFile, []byte(withDatabase(t, dsn, db)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := serveLedger(t, dir, options{service: "ledger", store: bank.StorePostgres, dsnFile: dsnFile})
	if body := getBalance(t, c); !strings.Contains(body, `"balance":100000`) {
		t.Errorf("balance = %s, want the seeded 100000", body)
	}
	if n := ledgerAccounts(t, dsn, db); n == 0 {
		t.Errorf("database %s holds no ledger accounts", db)
	}
}

// TestFileDBCredentialsQuotesNothing: a DSN file that does not parse is refused without
// quoting it (it holds a password).
func TestFileDBCredentialsQuotesNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.dsn")
	if err := os.WriteFile(p, []byte("postgres://u:s3cr3t-pw@[::1/db"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := fileDBCredentials(p)(context.Background())
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("fileDBCredentials(bad file) = %v, want an error that does not quote it", err)
	}
}
