package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/internal/testpg"
)

// TestBankOnPostgres runs a second `bulwark up` with store: postgres against the real
// PostgreSQL server: every bank service gets its own database and short-lived credentials
// from the control plane, and the bank works end to end through the gateway.
func TestBankOnPostgres(t *testing.T) {
	dsn := testpg.AdminDSN(t)
	prefix := testpg.Prefix(t, dsn)      // dropped after `up` stops (cleanups run last-in first-out)
	dir, err := os.MkdirTemp("", "bwpg") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dsnFile := filepath.Join(dir, "pg-admin.dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../examples/bank/bulwark.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := "store: postgres\npostgres:\n  admin_dsn_file: " + dsnFile + "\n  prefix: " + prefix + "\n" + withBankOpenAPI(string(b))
	if err := copyBankPolicies(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	p, err := startUp(cfgPath, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v\nstderr: %s", err, tail(p.Stderr()))
		}
	})
	var ep endpoints
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(state, "endpoints.json"))), &ep); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(readFile(t, ep.CABundle)))
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	out, errOut, code := bw(t, "token", "--state-dir", state, "--user", "alice")
	if code != 0 {
		t.Fatalf("bulwark token: exit %d: %s", code, errOut)
	}
	alice := strings.TrimSpace(out)
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ep.Gateway+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+alice)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(rb)
	}

	if code, body := do("GET", "/api/accounts/A-1001", ""); code != http.StatusOK || !strings.Contains(body, `"name":"Alice Example"`) {
		t.Fatalf("alice reads her account: %d %s\nstderr: %s", code, body, tail(p.Stderr()))
	}
	if code, body := do("POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`); code != http.StatusCreated {
		t.Fatalf("payment: %d %s\nstderr: %s", code, body, tail(p.Stderr()))
	}
	if code, body := do("GET", "/api/accounts/A-1001/balance", ""); code != http.StatusOK || !strings.Contains(body, `"balance":99990`) {
		t.Errorf("balance after payment: %d %s", code, body)
	}
	if code, body := do("POST", "/api/cards", `{"number":"4111 1111 1111 1111","expiry":"12/39"}`); code != http.StatusCreated {
		t.Errorf("card: %d %s", code, body)
	}

	// The data is in PostgreSQL, one database per service; no SQLite file was made.
	ctx := context.Background()
	for table, want := range map[string]int{"payments.payments": 1, "payments.cards": 1, "ledger.postings": 1, "notifications.events": 1, "accounts.accounts": 2} {
		svc, tbl, _ := strings.Cut(table, ".")
		cc, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cc.Database = prefix + "_" + svc
		c, err := pgx.ConnectConfig(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = c.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tbl}.Sanitize()).Scan(&n)
		c.Close(ctx)
		if err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(state, "data", "*.db")); len(files) != 0 {
		t.Errorf("SQLite files on a postgres store: %v", files)
	}
	// Each service got its credential, audited without its password.
	audit := readFile(t, ep.AuditLog)
	for _, svc := range []string{"accounts", "payments", "ledger", "notifications"} {
		if !strings.Contains(audit, `"issue postgres credential `+prefix+"_"+svc+"_c_") {
			t.Errorf("no audited credential issue for %s", svc)
		}
	}
	if strings.Contains(audit, "SCRAM-SHA-256") || strings.Contains(p.Stderr(), `"password":"`) {
		t.Error("a password or its verifier reached the audit log or the logs")
	}
}
