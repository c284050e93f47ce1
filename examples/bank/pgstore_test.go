package bank

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/dbcreds"
	"github.com/bulwark-security/bulwark/internal/testpg"
)

// auditDiscard records nothing: these tests are about the bank, dbcreds tests the audit.
type auditDiscard struct{}

func (auditDiscard) Record(context.Context, audit.Event) error { return nil }

// newPostgresBank is newTestBank with every service on its own database of the real
// PostgreSQL server, its credentials issued by a real dbcreds engine with ttl (and reaped
// when they expire).
func newPostgresBank(t *testing.T, ttl time.Duration) *testBank {
	t.Helper()
	dsn := testpg.AdminDSN(t)
	prefix := testpg.Prefix(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	eng, err := dbcreds.Open(ctx, dbcreds.Options{AdminDSN: dsn, Prefix: prefix, Services: Services, TTL: ttl,
		ReapInterval: 200 * time.Millisecond, Audit: auditDiscard{}, Log: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; eng.Close() })

	b := &testBank{dir: shortTempDir(t), apps: map[string]*App{}}
	b.control = newTestControl(t, filepath.Join(b.dir, "control"))
	for _, name := range Services {
		var mesh *http.Client
		if name == "accounts" || name == "payments" {
			mesh = MeshClient(b.serveMesh(t, name))
		}
		a, err := Open(Options{Name: name, DataDir: filepath.Join(b.dir, "data"), Mesh: mesh, Log: testLogger(),
			Store: StorePostgres, DBCreds: func(ctx context.Context) (dbcreds.Creds, error) {
				return eng.Issue(ctx, name, trustDomain+"/svc/"+name)
			}})
		if err != nil {
			t.Fatalf("Open(%s) on postgres: %v", name, err)
		}
		t.Cleanup(func() { a.Close() })
		b.apps[name] = a
	}
	return b
}

// TestPostgresBank runs the bank's payment, card and account flows on PostgreSQL.
func TestPostgresBank(t *testing.T) {
	b := newPostgresBank(t, time.Minute)
	if a := b.apps["ledger"]; a.pg == nil {
		t.Fatal("ledger is not on postgres")
	}
	status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`)
	if status != http.StatusCreated {
		t.Fatalf("payment: status %d, body %s", status, body)
	}
	var p payment
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	for account, want := range map[string]int64{"A-1001": openingBalance - 10, "A-1002": openingBalance + 10} {
		if got := b.balance(t, account); got != want {
			t.Errorf("balance %s = %d, want %d", account, got, want)
		}
	}
	if n := b.count(t, "payments", "payments", `id = $1 AND status = 'posted' AND "user" = 'alice'`, p.ID); n != 1 {
		t.Errorf("posted payments with id %s = %d, want 1", p.ID, n)
	}
	if n := b.count(t, "notifications", "events", "type = 'payment.posted' AND body::jsonb->>'payment_id' = $1", p.ID); n != 1 {
		t.Errorf("payment.posted events = %d, want 1", n)
	}
	// Insufficient funds: 409, nothing moves.
	if status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":100000}`); status != http.StatusConflict {
		t.Errorf("overdraw: status %d, body %s", status, body)
	}
	// A card registered twice: one row, 201 then 200.
	for _, want := range []int{http.StatusCreated, http.StatusOK} {
		if status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/cards", `{"number":"4111 1111 1111 1111","expiry":"12/39"}`); status != want {
			t.Errorf("card: status %d, want %d (body %s)", status, want, body)
		}
	}
	if n := b.count(t, "payments", "cards"); n != 1 {
		t.Errorf("cards = %d, want 1", n)
	}
	status, body = do(t, b.apps["accounts"].Handler(), alice, "GET", "/api/accounts/A-1001", "")
	if status != http.StatusOK || !strings.Contains(string(body), `"name":"Alice Example"`) {
		t.Errorf("own account: status %d, body %s", status, body)
	}
	if n := b.count(t, "accounts", "accounts", "name LIKE '%Alice%'"); n != 0 {
		t.Errorf("clear names in accounts' table: %d, want 0 (sealed)", n)
	}
}

// TestPostgresCredentialRenewal: with a 3s TTL, the apps renew before expiry and keep
// answering across several TTLs while the reaper drops every expired role.
func TestPostgresCredentialRenewal(t *testing.T) {
	b := newPostgresBank(t, 3*time.Second)
	first := b.apps["ledger"].pg.current.Load().Username
	end := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(end); i++ {
		status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", fmt.Sprintf(`{"from":"A-1001","to":"A-1002","amount":%d}`, 1))
		if status != http.StatusCreated {
			t.Fatalf("payment %d at %s: status %d, body %s", i, time.Now().Format(time.TimeOnly), status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if now := b.apps["ledger"].pg.current.Load().Username; now == first {
		t.Errorf("ledger still uses its first credential %s after 8s of a 3s TTL", first)
	}
}
