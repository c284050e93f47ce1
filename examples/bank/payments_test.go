package bank

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestPaymentMovesMoney(t *testing.T) {
	b := newTestBank(t)
	status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`)
	if status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", status, body)
	}
	var got payment
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got.ID, "pay_") || got.From != "A-1001" || got.To != "A-1002" || got.Amount != 10 || got.Status != "posted" {
		t.Errorf("payment = %+v, want pay_… A-1001 → A-1002, 10, posted", got)
	}
	for account, want := range map[string]int64{"A-1001": openingBalance - 10, "A-1002": openingBalance + 10} {
		if got := b.balance(t, account); got != want {
			t.Errorf("balance %s = %d, want %d", account, got, want)
		}
	}
	if n := b.count(t, "payments", "payments", "id = ? AND status = 'posted'", got.ID); n != 1 {
		t.Errorf("posted payments with id %s = %d, want 1", got.ID, n)
	}
	if n := b.count(t, "notifications", "events", "type = 'payment.posted' AND json_extract(body, '$.payment_id') = ? AND caller = ?",
		got.ID, trustDomain+"/svc/payments"); n != 1 {
		t.Errorf("payment.posted events for %s = %d, want 1", got.ID, n)
	}
}

func TestPaymentIDsDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newPaymentID()
		if seen[id] || !paymentIDRE.MatchString(id) {
			t.Fatalf("payment id %q repeated or malformed", id)
		}
		seen[id] = true
	}
}

// assertUnchanged checks that no money moved and no payment was recorded.
func assertUnchanged(t *testing.T, b *testBank) {
	t.Helper()
	for _, acct := range seedAccounts {
		if got := b.balance(t, acct.ID); got != openingBalance {
			t.Errorf("balance %s = %d, want %d", acct.ID, got, openingBalance)
		}
	}
	if n := b.count(t, "payments", "payments"); n != 0 {
		t.Errorf("payments recorded = %d, want 0", n)
	}
	if n := b.count(t, "ledger", "postings"); n != 0 {
		t.Errorf("ledger postings = %d, want 0", n)
	}
	if n := b.count(t, "notifications", "events"); n != 0 {
		t.Errorf("events = %d, want 0", n)
	}
}

func TestPaymentForbidden(t *testing.T) {
	b := newTestBank(t)
	tests := []struct {
		name string
		as   who
		body string
	}{
		{"from someone else's account", alice, `{"from":"A-1002","to":"A-1001","amount":10}`},
		{"from an unknown account", alice, `{"from":"A-9999","to":"A-1001","amount":10}`},
		{"teller is not a customer", tina, `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"no user", anon, `{"from":"A-1001","to":"A-1002","amount":10}`},
		{"no role", who{caller: "gateway", user: "alice"}, `{"from":"A-1001","to":"A-1002","amount":10}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, b.apps["payments"].Handler(), tt.as, "POST", "/api/payments", tt.body)
			if status != http.StatusForbidden {
				t.Fatalf("status = %d, want 403 (body %s)", status, body)
			}
			if got := errorCode(t, body); got != "forbidden" {
				t.Errorf("error code = %q, want forbidden", got)
			}
			assertUnchanged(t, b)
		})
	}
}

func TestPaymentBadBodies(t *testing.T) {
	b := newTestBank(t)
	tests := []struct {
		name string
		body string
	}{
		{"unknown field", `{"from":"A-1001","to":"A-1002","amount":10,"memo":"hi"}`},
		{"amount 0", `{"from":"A-1001","to":"A-1002","amount":0}`},
		{"negative amount", `{"from":"A-1001","to":"A-1002","amount":-10}`},
		{"amount 1.5", `{"from":"A-1001","to":"A-1002","amount":1.5}`},
		{"amount as string", `{"from":"A-1001","to":"A-1002","amount":"10"}`},
		{"amount too large", `{"from":"A-1001","to":"A-1002","amount":1000000000001}`},
		{"amount overflows", `{"from":"A-1001","to":"A-1002","amount":99999999999999999999}`},
		{"missing amount", `{"from":"A-1001","to":"A-1002"}`},
		{"missing to", `{"from":"A-1001","amount":10}`},
		{"malformed to", `{"from":"A-1001","to":"../A-1002","amount":10}`},
		{"unknown to", `{"from":"A-1001","to":"A-9999","amount":10}`},
		{"to equals from", `{"from":"A-1001","to":"A-1001","amount":10}`},
		{"two JSON objects", `{"from":"A-1001","to":"A-1002","amount":10}{"from":"A-1001","to":"A-1002","amount":10}`},
		{"trailing garbage", `{"from":"A-1001","to":"A-1002","amount":10} x`},
		{"array", `[{"from":"A-1001","to":"A-1002","amount":10}]`},
		{"null", `null`},
		{"empty", ``},
		{"not JSON", `from=A-1001&to=A-1002&amount=10`},
		{"oversize", `{"from":"A-1001","to":"A-1002","amount":10,"pad":"` + strings.Repeat("x", maxBody) + `"}`},
		{"oversize whitespace", `{"from":"A-1001","to":"A-1002","amount":10}` + strings.Repeat(" ", maxBody)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", tt.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", status, body)
			}
			if got := errorCode(t, body); got != "bad_request" {
				t.Errorf("error code = %q, want bad_request", got)
			}
			assertUnchanged(t, b)
		})
	}
}

func TestPaymentInsufficientFunds(t *testing.T) {
	b := newTestBank(t)
	status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments",
		fmt.Sprintf(`{"from":"A-1001","to":"A-1002","amount":%d}`, openingBalance+1))
	if status != http.StatusConflict {
		t.Fatalf("status = %d, want 409 (body %s)", status, body)
	}
	if got := errorCode(t, body); got != "conflict" {
		t.Errorf("error code = %q, want conflict", got)
	}
	if got := b.balance(t, "A-1001"); got != openingBalance {
		t.Errorf("balance A-1001 = %d, want %d", got, openingBalance)
	}
	if n := b.count(t, "payments", "payments", "status = 'rejected'"); n != 1 {
		t.Errorf("rejected payments = %d, want 1", n)
	}
	if n := b.count(t, "notifications", "events"); n != 0 {
		t.Errorf("events = %d, want 0", n)
	}
}

func TestPaymentNotificationIsBestEffort(t *testing.T) {
	b := newTestBank(t, "payments", "ledger") // notifications is down
	status, body := do(t, b.apps["payments"].Handler(), bob, "POST", "/api/payments", `{"from":"A-1002","to":"A-1001","amount":25}`)
	if status != http.StatusCreated {
		t.Fatalf("status = %d, want 201 (body %s)", status, body)
	}
	if got, want := b.balance(t, "A-1001"), int64(openingBalance+25); got != want {
		t.Errorf("balance A-1001 = %d, want %d", got, want)
	}
}

func TestPaymentLedgerDown(t *testing.T) {
	b := newTestBank(t, "payments", "notifications") // ledger is down
	status, body := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", `{"from":"A-1001","to":"A-1002","amount":10}`)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 (body %s)", status, body)
	}
	if got := errorCode(t, body); got != "unavailable" {
		t.Errorf("error code = %q, want unavailable", got)
	}
	if n := b.count(t, "payments", "payments", "status = 'pending'"); n != 1 {
		t.Errorf("pending payments = %d, want 1", n)
	}
	if n := b.count(t, "notifications", "events"); n != 0 {
		t.Errorf("events = %d, want 0", n)
	}
}

// TestConcurrentPaymentsNeverOverdraw races 20 payments of 10000 from an account holding
// 100000: exactly ten succeed, whatever the interleaving.
func TestConcurrentPaymentsNeverOverdraw(t *testing.T) {
	b := newTestBank(t)
	const n, amount = 20, 10000
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			status, _ := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments",
				fmt.Sprintf(`{"from":"A-1001","to":"A-1002","amount":%d}`, amount))
			statuses[i] = status
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	want := map[int]int{http.StatusCreated: openingBalance / amount, http.StatusConflict: n - openingBalance/amount}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("status counts = %v, want %v", counts, want)
	}
	if got := b.balance(t, "A-1001"); got != 0 {
		t.Errorf("balance A-1001 = %d, want 0", got)
	}
	if got := b.balance(t, "A-1002"); got != 2*openingBalance {
		t.Errorf("balance A-1002 = %d, want %d", got, 2*openingBalance)
	}
	if got := b.count(t, "payments", "payments", "status = 'posted'"); got != openingBalance/amount {
		t.Errorf("posted payments = %d, want %d", got, openingBalance/amount)
	}
}
