package bank

import (
	"net/http"
	"testing"
)

// FuzzPaymentBody sends arbitrary bodies as alice: each is refused with 400 or 409 or
// posted with 201, and no money is ever created, destroyed or overdrawn.
func FuzzPaymentBody(f *testing.F) {
	for _, seed := range []string{
		`{"from":"A-1001","to":"A-1002","amount":10}`,
		`{"from":"A-1001","to":"A-1002","amount":1.5}`,
		`{"from":"A-1001","to":"A-1002","amount":"10"}`,
		`{"from":"A-1001","to":"A-1002","amount":10,"x":1}`,
		`{"from":"A-1001","to":"A-1002","amount":10}{}`,
		`{"from":"A-1002","to":"A-1001","amount":10}`,
		`[]`, `null`, ``,
	} {
		f.Add(seed)
	}
	b := newTestBank(f)
	f.Fuzz(func(t *testing.T, body string) {
		status, _ := do(t, b.apps["payments"].Handler(), alice, "POST", "/api/payments", body)
		switch status {
		case http.StatusCreated, http.StatusBadRequest, http.StatusConflict, http.StatusForbidden:
		default:
			t.Errorf("status = %d for body %q", status, body)
		}
		from, to := b.balance(t, "A-1001"), b.balance(t, "A-1002")
		if from < 0 || from+to != 2*openingBalance {
			t.Fatalf("balances %d + %d: money created, destroyed or overdrawn", from, to)
		}
	})
}
