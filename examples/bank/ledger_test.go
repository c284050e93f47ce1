package bank

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

const posting10 = `{"payment_id":"pay_test","from":"A-1001","to":"A-1002","amount":10}`

func TestLedgerRefusesNonPaymentsCaller(t *testing.T) {
	b := newTestBank(t, "ledger")
	h := b.apps["ledger"].Handler()
	tests := []struct {
		name   string
		caller string // full X-Bulwark-Caller value
	}{
		{"accounts", trustDomain + "/svc/accounts"},
		{"notifications", trustDomain + "/svc/notifications"},
		{"gateway", trustDomain + "/svc/gateway"},
		{"payments sub-path", trustDomain + "/svc/payments/x"},
		{"not a SPIFFE ID", "payments"},
		{"no caller", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := doCaller(t, h, tt.caller, "POST", "/entries", posting10)
			if status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403 (body %s)", status, body)
			}
			if got := errorCode(t, body); got != "forbidden" {
				t.Errorf("error code = %q, want forbidden", got)
			}
			if got := b.balance(t, "A-1001"); got != openingBalance {
				t.Errorf("balance A-1001 = %d, want %d", got, openingBalance)
			}
		})
	}
}

// doCaller sends a request whose X-Bulwark-Caller is exactly caller.
func doCaller(t *testing.T, h http.Handler, caller, method, path, body string) (int, []byte) {
	t.Helper()
	return do(t, h, who{}, method, path, body, withHeader("X-Bulwark-Caller", caller))
}

func TestLedgerEntries(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantFrom   int64 // A-1001's balance afterwards
	}{
		{"posts", posting10, http.StatusCreated, "", openingBalance - 10},
		{"whole balance", `{"payment_id":"p1","from":"A-1001","to":"A-1002","amount":100000}`, http.StatusCreated, "", 0},
		{"insufficient funds", `{"payment_id":"p1","from":"A-1001","to":"A-1002","amount":100001}`, http.StatusConflict, "conflict", openingBalance},
		{"unknown account", `{"payment_id":"p1","from":"A-1001","to":"A-9999","amount":1}`, http.StatusBadRequest, "bad_request", openingBalance},
		{"same account", `{"payment_id":"p1","from":"A-1001","to":"A-1001","amount":1}`, http.StatusBadRequest, "bad_request", openingBalance},
		{"bad payment id", `{"payment_id":"p 1","from":"A-1001","to":"A-1002","amount":1}`, http.StatusBadRequest, "bad_request", openingBalance},
		{"zero amount", `{"payment_id":"p1","from":"A-1001","to":"A-1002","amount":0}`, http.StatusBadRequest, "bad_request", openingBalance},
		{"unknown field", `{"payment_id":"p1","from":"A-1001","to":"A-1002","amount":1,"x":1}`, http.StatusBadRequest, "bad_request", openingBalance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBank(t, "ledger")
			status, body := do(t, b.apps["ledger"].Handler(), who{caller: "payments"}, "POST", "/entries", tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantCode != "" {
				if got := errorCode(t, body); got != tt.wantCode {
					t.Errorf("error code = %q, want %q", got, tt.wantCode)
				}
			} else {
				var got postingAnswer
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if got.PaymentID == "" || got.From != "A-1001" || got.Status != "posted" {
					t.Errorf("answer = %s, want the posting with status posted", body)
				}
			}
			if got := b.balance(t, "A-1001"); got != tt.wantFrom {
				t.Errorf("balance A-1001 = %d, want %d", got, tt.wantFrom)
			}
			if got, want := b.balance(t, "A-1001")+b.balance(t, "A-1002"), int64(2*openingBalance); got != want {
				t.Errorf("total money = %d, want %d", got, want)
			}
		})
	}
}

func TestLedgerBalance(t *testing.T) {
	b := newTestBank(t, "ledger")
	tests := []struct {
		account    string
		wantStatus int
	}{
		{"A-1001", http.StatusOK},
		{"A-1002", http.StatusOK},
		{"A-9999", http.StatusNotFound},
		{"nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			status, body := do(t, b.apps["ledger"].Handler(), who{caller: "accounts"}, "GET", "/balances/"+tt.account, "")
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
		})
	}
}

// TestLedgerIdempotent replays one posting from 20 goroutines: it is applied once, every
// replay answers 200, and reusing the id for a different posting is a conflict.
func TestLedgerIdempotent(t *testing.T) {
	b := newTestBank(t, "ledger")
	h := b.apps["ledger"].Handler()
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses[i], _ = do(t, h, who{caller: "payments"}, "POST", "/entries", posting10)
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	if got, want := fmt.Sprint(counts), fmt.Sprint(map[int]int{http.StatusOK: n - 1, http.StatusCreated: 1}); got != want {
		t.Errorf("status counts = %s, want %s", got, want)
	}
	if got := b.balance(t, "A-1001"); got != openingBalance-10 {
		t.Errorf("balance A-1001 = %d, want %d", got, openingBalance-10)
	}
	status, body := do(t, h, who{caller: "payments"}, "POST", "/entries", `{"payment_id":"pay_test","from":"A-1001","to":"A-1002","amount":11}`)
	if status != http.StatusConflict {
		t.Errorf("reused id: status = %d, want 409 (body %s)", status, body)
	}
	if got := b.count(t, "ledger", "entries", "payment_id = 'pay_test'"); got != 2 {
		t.Errorf("entries for pay_test = %d, want 2 (one debit, one credit)", got)
	}
}

// TestLedgerConcurrentNeverOverdraws races 20 distinct postings of 7000 against 100000.
func TestLedgerConcurrentNeverOverdraws(t *testing.T) {
	b := newTestBank(t, "ledger")
	const n, amount = 20, 7000
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			do(t, b.apps["ledger"].Handler(), who{caller: "payments"}, "POST", "/entries",
				fmt.Sprintf(`{"payment_id":"p%d","from":"A-1001","to":"A-1002","amount":%d}`, i, amount))
		})
	}
	wg.Wait()
	want := int64(openingBalance % amount)
	if got := b.balance(t, "A-1001"); got != want {
		t.Errorf("balance A-1001 = %d, want %d", got, want)
	}
	if got, want := b.count(t, "ledger", "postings"), openingBalance/amount; got != want {
		t.Errorf("postings = %d, want %d", got, want)
	}
}
