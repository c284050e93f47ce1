package bank

import (
	"net/http"
	"strings"
	"testing"
)

func TestNotificationEvents(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantStored int
	}{
		{"payment event", `{"type":"payment.posted","payment_id":"pay_1","from":"A-1001","to":"A-1002","amount":10}`, http.StatusAccepted, 1},
		{"type only", `{"type":"account.opened"}`, http.StatusAccepted, 1},
		{"missing type", `{"payment_id":"pay_1"}`, http.StatusBadRequest, 0},
		{"type not a string", `{"type":7}`, http.StatusBadRequest, 0},
		{"malformed type", `{"type":"Payment Posted"}`, http.StatusBadRequest, 0},
		{"two objects", `{"type":"a"}{"type":"b"}`, http.StatusBadRequest, 0},
		{"array", `[{"type":"a"}]`, http.StatusBadRequest, 0},
		{"empty", ``, http.StatusBadRequest, 0},
		{"oversize", `{"type":"a","pad":"` + strings.Repeat("x", maxBody) + `"}`, http.StatusBadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBank(t, "notifications")
			status, body := do(t, b.apps["notifications"].Handler(), who{caller: "payments"}, "POST", "/events", tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if got := b.count(t, "notifications", "events"); got != tt.wantStored {
				t.Errorf("events stored = %d, want %d", got, tt.wantStored)
			}
		})
	}
}
