package bank

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/fieldcrypt"
)

func TestListAccounts(t *testing.T) {
	b := newTestBank(t, "accounts")
	h := b.apps["accounts"].Handler()
	tests := []struct {
		name       string
		as         who
		wantStatus int
		wantIDs    []string
	}{
		{"alice sees her own", alice, http.StatusOK, []string{"A-1001"}},
		{"bob sees his own", bob, http.StatusOK, []string{"A-1002"}},
		{"teller sees all", tina, http.StatusOK, []string{"A-1001", "A-1002"}},
		{"customer without account sees none", who{caller: "gateway", user: "carol", roles: "customer"}, http.StatusOK, []string{}},
		{"teller among other roles", who{caller: "gateway", user: "tina", roles: "auditor, teller"}, http.StatusOK, []string{"A-1001", "A-1002"}},
		{"no user", anon, http.StatusForbidden, nil},
		{"no role", who{caller: "gateway", user: "alice"}, http.StatusForbidden, nil},
		{"unknown role", who{caller: "gateway", user: "alice", roles: "admin"}, http.StatusForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, tt.as, "GET", "/api/accounts", "")
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantIDs == nil {
				if got := errorCode(t, body); got != "forbidden" {
					t.Errorf("error code = %q, want forbidden", got)
				}
				return
			}
			var got []accountSummary
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
				if s.Owner == "" || s.Name == "" {
					t.Errorf("summary %+v lacks owner or name", s)
				}
			}
			if ids == nil {
				ids = []string{}
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
			if strings.Contains(string(body), "national_id") {
				t.Errorf("list leaks national ids: %s", body)
			}
		})
	}
}

func TestGetAccount(t *testing.T) {
	b := newTestBank(t, "accounts")
	h := b.apps["accounts"].Handler()
	tests := []struct {
		name       string
		as         who
		id         string
		wantStatus int
		wantCode   string
		wantName   string
	}{
		{"owner", alice, "A-1001", http.StatusOK, "", "Alice Example"},
		{"other customer", alice, "A-1002", http.StatusForbidden, "forbidden", ""},
		{"customer, unknown id", alice, "A-9999", http.StatusForbidden, "forbidden", ""},
		{"customer, malformed id", alice, "nope", http.StatusForbidden, "forbidden", ""},
		{"teller", tina, "A-1002", http.StatusOK, "", "Bob Example"},
		{"teller, unknown id", tina, "A-9999", http.StatusNotFound, "not_found", ""},
		{"teller, malformed id", tina, "nope", http.StatusNotFound, "not_found", ""},
		{"no user", anon, "A-1001", http.StatusForbidden, "forbidden", ""},
		{"user name but no role", who{caller: "gateway", user: "alice"}, "A-1001", http.StatusForbidden, "forbidden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, tt.as, "GET", "/api/accounts/"+tt.id, "")
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantCode != "" {
				if got := errorCode(t, body); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
				return
			}
			var got profile
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.id || got.Name != tt.wantName || got.Email == "" || got.NationalID == "" {
				t.Errorf("profile = %+v, want id %s, name %q, email and national id", got, tt.id, tt.wantName)
			}
		})
	}
}

func TestFakeProfilesAreDeterministic(t *testing.T) {
	for _, acct := range seedAccounts {
		t.Run(acct.ID, func(t *testing.T) {
			got, again := fakeProfile(acct), fakeProfile(acct)
			if got != again {
				t.Errorf("fakeProfile = %+v then %+v, want equal", got, again)
			}
			if !strings.HasPrefix(got.NationalID, "ZZ-") {
				t.Errorf("national id = %q, want the fake ZZ- prefix", got.NationalID)
			}
		})
	}
}

func TestAccountBalance(t *testing.T) {
	b := newTestBank(t, "accounts", "ledger")
	h := b.apps["accounts"].Handler()
	tests := []struct {
		name       string
		as         who
		id         string
		wantStatus int
		wantCode   string
	}{
		{"owner", alice, "A-1001", http.StatusOK, ""},
		{"other customer", alice, "A-1002", http.StatusForbidden, "forbidden"},
		{"customer, unknown id", bob, "A-9999", http.StatusForbidden, "forbidden"},
		{"teller", tina, "A-1002", http.StatusOK, ""},
		{"teller, unknown id", tina, "A-9999", http.StatusNotFound, "not_found"},
		{"no user", anon, "A-1001", http.StatusForbidden, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, h, tt.as, "GET", "/api/accounts/"+tt.id+"/balance", "")
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantCode != "" {
				if got := errorCode(t, body); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
				return
			}
			var got balanceAnswer
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := balanceAnswer{Account: tt.id, Balance: openingBalance, Currency: "EUR"}
			if got != want {
				t.Errorf("balance = %+v, want %+v", got, want)
			}
		})
	}
}

func TestAccountBalanceLedgerDown(t *testing.T) {
	tests := []struct {
		name  string
		apps  []string // what runs besides accounts
		alive bool     // whether anything listens on the mesh socket
	}{
		{"ledger not routed", nil, true},
		{"no sidecar at all", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a *App
			if tt.alive {
				a = newTestBank(t, append([]string{"accounts"}, tt.apps...)...).apps["accounts"]
			} else {
				// Its field keys in-process: without a sidecar the control plane is out of
				// reach too, and accounts could not open its profiles at all.
				dir := shortTempDir(t)
				ctl := newTestControl(t, filepath.Join(dir, "control"))
				var err error
				a, err = Open(Options{Name: "accounts", DataDir: dir, Mesh: MeshClient(filepath.Join(dir, "missing.sock")),
					Log: testLogger(), Keys: fieldcrypt.Local{Manager: ctl.keys, Service: "accounts"}})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { a.Close() })
			}
			status, body := do(t, a.Handler(), alice, "GET", "/api/accounts/A-1001/balance", "")
			if status != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503 (body %s)", status, body)
			}
			if got := errorCode(t, body); got != "unavailable" {
				t.Errorf("error code = %q, want unavailable", got)
			}
			// The request id is random hex: it may spell "502" by chance.
			text := regexp.MustCompile(`"request_id":"[0-9a-f]*"`).ReplaceAllString(string(body), "")
			for _, leak := range []string{"sock", "dial", "502"} {
				if strings.Contains(text, leak) {
					t.Errorf("body %s leaks internal detail %q", body, leak)
				}
			}
		})
	}
}

func TestUnknownEndpoint(t *testing.T) {
	b := newTestBank(t, "accounts")
	tests := []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/api/accounts/A-1001/secrets"},
		{"DELETE", "/api/accounts/A-1001"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, body := do(t, b.apps["accounts"].Handler(), tina, tt.method, tt.path, "")
			if status != http.StatusNotFound {
				t.Fatalf("status = %d, want 404", status)
			}
			if got := errorCode(t, body); got != "not_found" {
				t.Errorf("error code = %q, want not_found", got)
			}
		})
	}
}
