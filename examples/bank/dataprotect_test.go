package bank

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

const testPAN = "4111111111111111"

// seededPII are the clear values seeding creates: none may be in a datastore file.
func seededPII() []string {
	var out []string
	for _, a := range seedAccounts {
		p := fakeProfile(a)
		out = append(out, p.Name, p.Email, p.NationalID)
	}
	return out
}

// assertFilesFree fails if any file under dir holds any of values, as raw bytes.
func assertFilesFree(t *testing.T, dir string, values ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Type()&os.ModeSocket != 0 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds %q in clear", path, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProfilesSealedAtRestAndMaskedForTellers(t *testing.T) {
	b := newTestBank(t, "accounts", "ledger")
	h := b.apps["accounts"].Handler()
	want := fakeProfile(seedAccounts[0])

	var raw profile
	if err := b.apps["accounts"].db.QueryRow(`SELECT name, email, national_id FROM accounts WHERE id = ?`, want.ID).
		Scan(&raw.Name, &raw.Email, &raw.NationalID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{raw.Name, raw.Email, raw.NationalID} {
		if !fieldcrypt.IsSealed(v) {
			t.Errorf("stored value %q is not sealed", v)
		}
	}
	assertFilesFree(t, filepath.Join(b.dir, "data"), seededPII()...)

	for _, tt := range []struct {
		name   string
		as     who
		wantID string
	}{
		{"owner sees it all", alice, want.NationalID},
		{"teller sees the last four", tina, "**-***-**-" + want.NationalID[len(want.NationalID)-4:]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, tt.as, "GET", "/api/accounts/"+want.ID, "")
			if status != http.StatusOK {
				t.Fatalf("status = %d, body %s", status, body)
			}
			var got profile
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Name != want.Name || got.Email != want.Email || got.NationalID != tt.wantID {
				t.Errorf("profile = %+v, want name %q email %q national_id %q", got, want.Name, want.Email, tt.wantID)
			}
		})
	}
	status, body := do(t, h, tina, "GET", "/api/accounts", "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"name":"`+want.Name+`"`)) {
		t.Errorf("list: status %d, body %s; want the opened name %q", status, body, want.Name)
	}
}

// TestSealedFieldMovedToAnotherRow: alice's sealed national id copied into bob's row does
// not open there, and the answer says nothing about why.
func TestSealedFieldMovedToAnotherRow(t *testing.T) {
	b := newTestBank(t, "accounts")
	db := b.apps["accounts"].db
	if _, err := db.Exec(`UPDATE accounts SET national_id = (SELECT national_id FROM accounts WHERE id = 'A-1001') WHERE id = 'A-1002'`); err != nil {
		t.Fatal(err)
	}
	status, body := do(t, b.apps["accounts"].Handler(), tina, "GET", "/api/accounts/A-1002", "")
	if status != http.StatusInternalServerError || errorCode(t, body) != "internal" {
		t.Fatalf("status = %d, body %s; want 500 internal", status, body)
	}
	if bytes.Contains(body, []byte(fakeProfile(seedAccounts[0]).NationalID)) {
		t.Errorf("body %s leaks alice's national id", body)
	}
}

// TestClearProfilesOfOlderVersionSealed opens a database an older accounts wrote in clear:
// the rows are sealed and the clear bytes are gone from every file.
func TestClearProfilesOfOlderVersionSealed(t *testing.T) {
	dir := shortTempDir(t)
	data := filepath.Join(dir, "data")
	old, err := openDB(data, "accounts")
	if err != nil {
		t.Fatal(err)
	}
	err = migrate(context.Background(), old, accountsSchema, func(tx *sql.Tx) error {
		for _, a := range seedAccounts {
			p := fakeProfile(a)
			if _, err := tx.Exec(`INSERT INTO accounts (id, owner, name, email, national_id) VALUES (?, ?, ?, ?, ?)`,
				p.ID, p.Owner, p.Name, p.Email, p.NationalID); err != nil {
				return err
			}
		}
		return nil
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()

	ctl := newTestControl(t, filepath.Join(dir, "control"))
	a, err := Open(Options{Name: "accounts", DataDir: data, Mesh: MeshClient(filepath.Join(dir, "none.sock")),
		Log: testLogger(), Keys: fieldcrypt.Local{Manager: ctl.keys, Service: "accounts"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	assertFilesFree(t, data, seededPII()...)
	status, body := do(t, a.Handler(), bob, "GET", "/api/accounts/A-1002", "")
	if want := fakeProfile(seedAccounts[1]); status != http.StatusOK || !bytes.Contains(body, []byte(want.NationalID)) {
		t.Errorf("after migration: status %d, body %s; want bob's profile", status, body)
	}
}

func TestRegisterCardAndPayWithIt(t *testing.T) {
	b := newTestBank(t, "payments", "ledger", "notifications")
	h := b.apps["payments"].Handler()

	status, body := do(t, h, alice, "POST", "/api/cards", `{"number":"4111 1111 1111 1111","expiry":"12/39"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: status %d, body %s", status, body)
	}
	var card cardAnswer
	if err := json.Unmarshal(body, &card); err != nil {
		t.Fatal(err)
	}
	if card.Last4 != "1111" || !cardTokenRE.MatchString(card.Token) {
		t.Fatalf("card = %+v, want a card token and last4 1111", card)
	}
	status, body = do(t, h, alice, "POST", "/api/cards", `{"number":"`+testPAN+`","expiry":"12/39"}`)
	if status != http.StatusOK || !bytes.Contains(body, []byte(card.Token)) {
		t.Errorf("register again: status %d, body %s; want 200 and the same token", status, body)
	}

	status, body = do(t, h, alice, "POST", "/api/payments", `{"card":"`+card.Token+`","to":"A-1002","amount":250}`)
	if status != http.StatusCreated {
		t.Fatalf("pay with card: status %d, body %s", status, body)
	}
	if got := b.balance(t, "A-1001"); got != openingBalance-250 {
		t.Errorf("alice's balance = %d, want %d", got, openingBalance-250)
	}
	if n := b.count(t, "payments", "card_payments", "card = ?", card.Token); n != 1 {
		t.Errorf("card payments recorded = %d, want 1", n)
	}
	// Bob cannot pay with alice's card token.
	status, body = do(t, h, bob, "POST", "/api/payments", `{"card":"`+card.Token+`","to":"A-1002","amount":1}`)
	if status != http.StatusForbidden {
		t.Errorf("bob with alice's card: status %d, body %s; want 403", status, body)
	}
	// Payments' datastore never held the number.
	assertFilesFree(t, filepath.Join(b.dir, "data"), testPAN, "4111 1111 1111 1111")
	var allowed bool
	for _, e := range b.control.events(t) {
		if e.Kind == audit.KindTokenization && e.Outcome == audit.Allow && e.Caller == trustDomain+"/svc/payments" {
			allowed = true
		}
	}
	if !allowed {
		t.Errorf("no tokenization allow event for payments in %+v", b.control.events(t))
	}
}

func TestRegisterCardRefusesBadInput(t *testing.T) {
	b := newTestBank(t, "payments")
	h := b.apps["payments"].Handler()
	tests := []struct {
		name   string
		as     who
		body   string
		status int
	}{
		{"luhn fails", alice, `{"number":"4111111111111112","expiry":"12/39"}`, http.StatusBadRequest},
		{"letters", alice, `{"number":"4111-abcd","expiry":"12/39"}`, http.StatusBadRequest},
		{"expired", alice, `{"number":"` + testPAN + `","expiry":"01/20"}`, http.StatusBadRequest},
		{"bad expiry", alice, `{"number":"` + testPAN + `","expiry":"13/30"}`, http.StatusBadRequest},
		{"unknown field", alice, `{"number":"` + testPAN + `","expiry":"12/39","cvv":"123"}`, http.StatusBadRequest},
		{"teller", tina, `{"number":"` + testPAN + `","expiry":"12/39"}`, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, tt.as, "POST", "/api/cards", tt.body)
			if status != tt.status {
				t.Errorf("status = %d, body %s; want %d", status, body, tt.status)
			}
			if bytes.Contains(body, []byte(testPAN)) {
				t.Errorf("error body %s echoes the card number", body)
			}
		})
	}
	if n := b.count(t, "payments", "cards"); n != 0 {
		t.Errorf("cards = %d after refused registrations, want 0", n)
	}
}

// TestDetokenizeWithoutGrantRefused: payments may tokenize cards but holds no detokenize
// grant; asking through its sidecar is refused with 403 and audited as a deny.
func TestDetokenizeWithoutGrantRefused(t *testing.T) {
	b := newTestBank(t, "payments")
	status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/cards", `{"number":"`+testPAN+`","expiry":"12/39"}`)
	if status != http.StatusCreated {
		t.Fatalf("register: status %d, body %s", status, body)
	}
	var card cardAnswer
	if err := json.Unmarshal(body, &card); err != nil {
		t.Fatal(err)
	}
	c := tokenize.Client{HTTP: b.apps["payments"].mesh, BaseURL: controlURL}
	v, err := c.Detokenize(context.Background(), card.Token)
	if !errors.Is(err, tokenize.ErrForbidden) || v != "" {
		t.Fatalf("Detokenize = %q, %v; want ErrForbidden", v, err)
	}
	// The last event, asserted whole. This test's control plane has no request-id
	// middleware, so the event has none (e2e TestCardsTokensAndPIIAtRest asserts it on the real one).
	evs := audittest.Read(t, b.control.auditPath)
	audittest.Equal(t, evs[len(evs)-1:], []audit.Event{{Kind: audit.KindTokenization, Component: "control", Outcome: audit.Deny,
		Reason: "detokenize card: no grant for payments", Caller: trustDomain + "/svc/payments"}})
}

// TestAccountsWaitsForItsKeys: run alone, accounts may start before its sidecar; it waits
// for the key service instead of failing, and gives up with a clear error after KeysWait.
func TestAccountsWaitsForItsKeys(t *testing.T) {
	dir := shortTempDir(t)
	ctl := newTestControl(t, filepath.Join(dir, "control"))
	sock := filepath.Join(dir, "late.sock")
	if _, err := Open(Options{Name: "accounts", DataDir: filepath.Join(dir, "data0"), Mesh: MeshClient(sock),
		Log: testLogger(), KeysWait: 300 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "field keys unavailable") {
		t.Fatalf("no key service: %v, want field keys unavailable", err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond) // the sidecar comes up late
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			who{caller: "accounts"}.set(r.Header)
			ctl.handler.ServeHTTP(w, r)
		})}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(ln)
	}()
	a, err := Open(Options{Name: "accounts", DataDir: filepath.Join(dir, "data"), Mesh: MeshClient(sock), Log: testLogger(), KeysWait: 20 * time.Second})
	if err != nil {
		t.Fatalf("Open with a late key service: %v", err)
	}
	a.Close()
}
