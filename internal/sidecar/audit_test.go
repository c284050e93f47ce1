package sidecar

import (
	"net/http"
	"testing"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// TestAuditFailure: when the decision cannot be recorded the request fails closed with 503
// and never reaches the app, unless audit.unsafe_fail_open is set.
func TestAuditFailure(t *testing.T) {
	tests := []struct {
		name     string
		opts     []meshOpt
		caller   string
		want     int
		wantCode string
		wantHits int32
	}{
		{name: "allowed, fail closed", caller: "accounts", want: 503, wantCode: proxy.CodeUnavailable},
		{name: "denied, fail closed", caller: "notifications", want: 503, wantCode: proxy.CodeUnavailable},
		{name: "allowed, unsafe fail open", opts: []meshOpt{failOpen()}, caller: "accounts", want: 200, wantHits: 1},
		{name: "denied, unsafe fail open", opts: []meshOpt{failOpen()}, caller: "notifications", want: 403, wantCode: proxy.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMesh(t, tt.opts...)
			ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"), func(o *Options) { o.Audit = m.brokenAudit(t) })
			res, err := do(t, m.mtlsClient(t, m.ca.SVID(t, tt.caller), "ledger", ledger.addr), "GET", "https://"+ledger.addr+"/balances/7", nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.want {
				t.Fatalf("status: got %d, want %d (body %s)", res.status, tt.want, res.body)
			}
			if tt.wantCode != "" {
				if got := res.errorBody(t); got.Code != tt.wantCode || got.RequestID == "" {
					t.Errorf("error: got %+v, want code %q and a request id", got, tt.wantCode)
				}
			}
			if got := ledger.app.hits.Load(); got != tt.wantHits {
				t.Errorf("app hits: got %d, want %d", got, tt.wantHits)
			}
			if got := res.status == http.StatusOK; got && res.echo(t).Header.Get(proxy.HeaderCaller) == "" {
				t.Error("fail-open request reached the app without a caller header")
			}
		})
	}
}
