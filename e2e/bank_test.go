package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestNoTokenIs401(t *testing.T) {
	for _, path := range []string{"/api/accounts", "/api/accounts/A-1001", "/api/accounts/A-1001/balance"} {
		t.Run(path, func(t *testing.T) {
			code, body, h := call(t, http.MethodGet, path, "", nil, nil)
			if code != http.StatusUnauthorized {
				t.Fatalf("status: got %d, want 401 (body %s)", code, body)
			}
			if got := h.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", got)
			}
			assertErrorBody(t, body, "unauthenticated")
		})
	}
	code, _, _ := call(t, http.MethodPost, "/api/payments", "", map[string]any{"from": "A-1001", "to": "A-1002", "amount": 1}, nil)
	if code != http.StatusUnauthorized {
		t.Fatalf("POST /api/payments without token: got %d, want 401", code)
	}
}

func TestAccountAccess(t *testing.T) {
	alice, tina := tokenFor(t, "alice"), tokenFor(t, "tina")
	tests := []struct {
		name, token, path string
		want              int
	}{
		{"alice reads her own account", alice, "/api/accounts/A-1001", http.StatusOK},
		{"alice reads bob's account", alice, "/api/accounts/A-1002", http.StatusForbidden},
		{"alice reads bob's balance", alice, "/api/accounts/A-1002/balance", http.StatusForbidden},
		{"tina (teller) reads bob's account", tina, "/api/accounts/A-1002", http.StatusOK},
		{"tina reads alice's balance", tina, "/api/accounts/A-1001/balance", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := call(t, http.MethodGet, tc.path, tc.token, nil, nil)
			if code != tc.want {
				t.Fatalf("status: got %d, want %d (body %s)", code, tc.want, body)
			}
			if tc.want == http.StatusForbidden {
				assertErrorBody(t, body, "forbidden")
			}
		})
	}
	t.Run("alice lists only her account; tina lists both", func(t *testing.T) {
		if got := listAccounts(t, alice); strings.Join(got, ",") != "A-1001" {
			t.Errorf("alice sees %v, want [A-1001]", got)
		}
		if got := listAccounts(t, tina); strings.Join(got, ",") != "A-1001,A-1002" {
			t.Errorf("tina sees %v, want [A-1001 A-1002]", got)
		}
	})
}

func TestPayments(t *testing.T) {
	alice := tokenFor(t, "alice")
	tina := tokenFor(t, "tina")
	before1, before2 := balance(t, tina, "A-1001"), balance(t, tina, "A-1002")

	code, body, _ := call(t, http.MethodPost, "/api/payments", alice, map[string]any{"from": "A-1001", "to": "A-1002", "amount": 10}, nil)
	if code < 200 || code > 299 {
		t.Fatalf("alice pays 10: got %d, want 2xx (body %s)", code, body)
	}
	if got, want := balance(t, alice, "A-1001"), before1-10; got != want {
		t.Errorf("alice's balance: got %d, want %d", got, want)
	}
	if got, want := balance(t, tina, "A-1002"), before2+10; got != want {
		t.Errorf("bob's balance: got %d, want %d", got, want)
	}

	code, body, _ = call(t, http.MethodPost, "/api/payments", alice, map[string]any{"from": "A-1002", "to": "A-1001", "amount": 10}, nil)
	if code != http.StatusForbidden {
		t.Fatalf("alice pays from bob's account: got %d, want 403 (body %s)", code, body)
	}
	if got, want := balance(t, tina, "A-1001"), before1-10; got != want {
		t.Errorf("after refused payment alice's balance: got %d, want %d", got, want)
	}
	if got, want := balance(t, tina, "A-1002"), before2+10; got != want {
		t.Errorf("after refused payment bob's balance: got %d, want %d", got, want)
	}

	code, _, _ = call(t, http.MethodPost, "/api/payments", tina, map[string]any{"from": "A-1001", "to": "A-1002", "amount": 1}, nil)
	if code != http.StatusForbidden {
		t.Errorf("tina (teller, not customer) pays: got %d, want 403", code)
	}
}

func listAccounts(t *testing.T, token string) []string {
	t.Helper()
	code, body, _ := call(t, http.MethodGet, "/api/accounts", token, nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/accounts: got %d (body %s)", code, body)
	}
	var accts []struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
	}
	if err := json.Unmarshal(body, &accts); err != nil {
		t.Fatalf("GET /api/accounts: %v", err)
	}
	var ids []string
	for _, a := range accts {
		if a.ID == "" || a.Owner == "" {
			t.Errorf("account without id or owner: %+v", a)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

func balance(t *testing.T, token, acct string) int64 {
	t.Helper()
	code, body, _ := call(t, http.MethodGet, "/api/accounts/"+acct+"/balance", token, nil, nil)
	if code != http.StatusOK {
		t.Fatalf("balance of %s: got %d (body %s)", acct, code, body)
	}
	var b struct {
		Balance *int64 `json:"balance"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.Balance == nil {
		t.Fatalf("balance of %s: no integer balance in %s", acct, body)
	}
	return *b.Balance
}

// assertErrorBody checks the JSON error shape every component answers with.
func assertErrorBody(t *testing.T, body []byte, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", body)
	}
	if e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("error body: got code %q message %q, want code %q and a message", e.Error.Code, e.Error.Message, code)
	}
}
