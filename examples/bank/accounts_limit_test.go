package bank

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestListAccountsLimit: ?limit= bounds the list and is checked by the app too, not only by
// the gateway's OpenAPI document.
func TestListAccountsLimit(t *testing.T) {
	b := newTestBank(t, "accounts")
	h := b.apps["accounts"].Handler()
	tests := []struct {
		query      string
		wantStatus int
		wantN      int
	}{
		{"?limit=1", http.StatusOK, 1},
		{"?limit=100", http.StatusOK, 2},
		{"", http.StatusOK, 2},
		{"?limit=0", http.StatusBadRequest, 0},
		{"?limit=101", http.StatusBadRequest, 0},
		{"?limit=abc", http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, body := do(t, h, tina, "GET", "/api/accounts"+tt.query, "")
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if status != http.StatusOK {
				if got := errorCode(t, body); got != "bad_request" {
					t.Errorf("error code = %q, want bad_request", got)
				}
				return
			}
			var got []accountSummary
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantN {
				t.Errorf("got %d accounts, want %d", len(got), tt.wantN)
			}
		})
	}
}
