package dbcreds

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestRoleCannotReadAnotherServicesTables: payments' credential is refused by PostgreSQL
// itself (SQLSTATE 42501) on accounts' database, and still refused on its tables when
// someone wrongly grants CONNECT to PUBLIC.
func TestRoleCannotReadAnotherServicesTables(t *testing.T) {
	ctx := context.Background()
	e, _, dsn := openEngine(t, time.Minute, "accounts", "payments")
	acc, err := e.Issue(ctx, "accounts", "spiffe://bank.local/svc/accounts")
	if err != nil {
		t.Fatal(err)
	}
	pay, err := e.Issue(ctx, "payments", "spiffe://bank.local/svc/payments")
	if err != nil {
		t.Fatal(err)
	}
	ac, err := connectAs(ctx, acc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx)
	if _, err := ac.Exec(ctx, `CREATE TABLE accounts (id text PRIMARY KEY, national_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Exec(ctx, `INSERT INTO accounts VALUES ('A-1001', 'sealed')`); err != nil {
		t.Fatal(err)
	}
	var owner string
	if err := ac.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'`).Scan(&owner); err != nil || owner != e.OwnerRole("accounts") {
		t.Errorf("table owner: got %q (%v), want the service's owner role %q", owner, err, e.OwnerRole("accounts"))
	}

	// payments' role on accounts' database: refused at connect.
	_, err = connectAs(ctx, pay, e.DatabaseName("accounts"))
	if got := sqlState(err); got != "42501" || !strings.Contains(err.Error(), "permission denied for database") {
		t.Fatalf("payments connecting to accounts' database: got %v (SQLSTATE %q), want permission denied (42501)", err, got)
	}
	// Its own database works.
	pc, err := connectAs(ctx, pay, "")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close(ctx)

	// Defense in depth: even with CONNECT granted to PUBLIC by mistake, the tables stay
	// closed (the schema and the tables belong to accounts' owner role).
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	db := pgx.Identifier{e.DatabaseName("accounts")}.Sanitize()
	if _, err := admin.Exec(ctx, `GRANT CONNECT ON DATABASE `+db+` TO PUBLIC`); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, `REVOKE ALL ON DATABASE `+db+` FROM PUBLIC`)
	pc, err = connectAs(ctx, pay, e.DatabaseName("accounts"))
	if err != nil {
		t.Fatalf("with CONNECT granted to PUBLIC: %v", err)
	}
	defer pc.Close(ctx)
	var id string
	err = pc.QueryRow(ctx, `SELECT id FROM public.accounts`).Scan(&id)
	if got := sqlState(err); got != "42501" || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("payments reading accounts' table: got %v (SQLSTATE %q), want permission denied (42501)", err, got)
	}
}

// TestCredentialStopsWorkingAfterTTL proves the reaper, not VALID UNTIL (which trust auth
// ignores), ends a credential: its open session is terminated, a new login is refused and
// the role is gone, while the service's data stays for the next credential.
func TestCredentialStopsWorkingAfterTTL(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, rec, dsn := openEngine(t, 3*time.Second, "ledger")
	c, err := e.Issue(ctx, "ledger", "spiffe://bank.local/svc/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Username, e.credPrefix("ledger")) || c.Database != e.DatabaseName("ledger") {
		t.Fatalf("creds: got user %q database %q", c.Username, c.Database)
	}
	conn, err := connectAs(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE TABLE entries (amount bigint); INSERT INTO entries VALUES (100000)`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	if time.Until(c.ExpiresAt) < 2*time.Second {
		t.Fatalf("expires at %s: the TTL was not applied", c.ExpiresAt)
	}
	// Before expiry it works.
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	deadline := c.ExpiresAt.Add(10 * time.Second)
	for conn.Ping(ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the session of an expired credential still works 10s after its TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if time.Now().Before(c.ExpiresAt) {
		t.Fatalf("session ended before the credential expired (%s)", time.Until(c.ExpiresAt))
	}
	if _, err := connectAs(ctx, c, ""); err == nil || sqlState(err) != "28000" {
		t.Errorf("login after the TTL: got %v (SQLSTATE %q), want role does not exist (28000)", err, sqlState(err))
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, c.Username).Scan(&n); err != nil || n != 0 {
		t.Errorf("role after the TTL: %d left (%v), want dropped", n, err)
	}
	// The data belongs to the service: the next credential reads it.
	next, err := e.Issue(ctx, "ledger", "spiffe://bank.local/svc/ledger")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := connectAs(ctx, next, "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close(context.Background())
	var amount int64
	if err := nc.QueryRow(ctx, `SELECT amount FROM entries`).Scan(&amount); err != nil || amount != 100000 {
		t.Errorf("data after renewal: got %d (%v)", amount, err)
	}
	// Issue and revoke are audited, never with the password.
	var issued, revoked bool
	for _, ev := range rec.all() {
		if ev.Kind != audit.KindDBCredentials || ev.Outcome != audit.Allow {
			continue
		}
		issued = issued || strings.HasPrefix(ev.Reason, "issue postgres credential "+c.Username+" for ledger")
		revoked = revoked || ev.Reason == "revoke expired postgres credential "+c.Username+" of ledger"
		if strings.Contains(ev.Reason, c.Password) || strings.Contains(ev.Reason, next.Password) {
			t.Errorf("audit event holds a password: %+v", ev)
		}
	}
	if !issued || !revoked {
		t.Errorf("audit: issued %v, revoked %v; events %+v", issued, revoked, rec.all())
	}
	cancel()
	<-done
}

// TestLeftoversRevokedAtOpen: an expired credential of an earlier run is revoked when the
// next engine opens, before it serves anything.
func TestLeftoversRevokedAtOpen(t *testing.T) {
	ctx := context.Background()
	e, rec, dsn := openEngine(t, time.Second, "notifications")
	c, err := e.Issue(ctx, "notifications", "spiffe://bank.local/svc/notifications")
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	time.Sleep(1500 * time.Millisecond)
	e2, err := Open(ctx, Options{AdminDSN: dsn, Prefix: e.o.Prefix, Services: []string{"notifications"}, TTL: time.Minute, Audit: rec, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if _, err := connectAs(ctx, c, ""); sqlState(err) != "28000" {
		t.Errorf("leftover credential after Open: got %v, want role does not exist (28000)", err)
	}
}

// TestMaxLive bounds the unexpired credentials of one service.
func TestMaxLive(t *testing.T) {
	ctx := context.Background()
	e, _, _ := openEngine(t, time.Minute, "payments")
	e.o.MaxLive = 2
	for i := range 2 {
		if _, err := e.Issue(ctx, "payments", "spiffe://bank.local/svc/payments"); err != nil {
			t.Fatalf("credential %d: %v", i, err)
		}
	}
	if _, err := e.Issue(ctx, "payments", "spiffe://bank.local/svc/payments"); err != ErrTooMany {
		t.Errorf("third credential: got %v, want ErrTooMany", err)
	}
	if _, err := e.Issue(ctx, "ledger", "spiffe://bank.local/svc/ledger"); err != ErrNoDatabase {
		t.Errorf("service without a database: got %v, want ErrNoDatabase", err)
	}
}

// TestPasswordStoredAsSCRAMVerifier: PostgreSQL keeps the verifier as sent (had it taken
// it for a clear password, it would have hashed it again), and it matches the password.
func TestPasswordStoredAsSCRAMVerifier(t *testing.T) {
	ctx := context.Background()
	e, _, dsn := openEngine(t, time.Minute, "accounts")
	c, err := e.Issue(ctx, "accounts", "spiffe://bank.local/svc/accounts")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var stored string
	if err := admin.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, c.Username).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
	head, keys, ok := strings.Cut(strings.TrimPrefix(stored, "SCRAM-SHA-256$"), "$")
	iterS, saltB64, ok2 := strings.Cut(head, ":")
	storedKey, _, ok3 := strings.Cut(keys, ":")
	iter, _ := strconv.Atoi(iterS)
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if !ok || !ok2 || !ok3 || err != nil || iter != scramIterations {
		t.Fatalf("stored secret is not a SCRAM-SHA-256 verifier: %.20q…", stored)
	}
	salted, _ := pbkdf2.Key(sha256.New, c.Password, salt, iter, sha256.Size)
	h := hmac.New(sha256.New, salted)
	h.Write([]byte("Client Key"))
	sum := sha256.Sum256(h.Sum(nil))
	if base64.StdEncoding.EncodeToString(sum[:]) != storedKey {
		t.Error("the stored verifier does not match the issued password")
	}
	var until time.Time
	if err := admin.QueryRow(ctx, `SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1`, c.Username).Scan(&until); err != nil || !until.Equal(c.ExpiresAt) {
		t.Errorf("VALID UNTIL: got %s (%v), want %s", until, err, c.ExpiresAt)
	}
}
