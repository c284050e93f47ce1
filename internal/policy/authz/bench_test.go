package authz

import (
	"testing"

	"github.com/bulwark-security/bulwark/internal/config"
)

func bankEngine(b *testing.B) (*Engine, *config.Config) {
	b.Helper()
	cfg, err := config.Load("../../../examples/bank/bulwark.yaml")
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(cfg, "../../../examples/bank/policies")
	if err != nil {
		b.Fatal(err)
	}
	return e, cfg
}

// BenchmarkDecide measures one decision on the bank's full policy set. The gateway's
// per-request cost, audit included, is BenchmarkAuthorize in internal/gateway.
func BenchmarkDecide(b *testing.B) {
	e, cfg := bankEngine(b)
	req := WorkloadRequest{Caller: cfg.WorkloadID("accounts"), Service: "ledger", Method: "GET", Path: "/balances/A-1001", Context: noon}
	b.Run("CedarWorkload", func(b *testing.B) {
		for b.Loop() {
			if !e.DecideWorkload(req).Allow {
				b.Fatal("denied")
			}
		}
	})
	b.Run("CedarUser", func(b *testing.B) {
		ureq := UserRequest{User: User{Name: "alice", Roles: []string{"customer"}}, Method: "GET", Path: "/api/accounts/A-1001/balance", Context: noon}
		for b.Loop() {
			if !e.DecideUser(ureq).Allow {
				b.Fatal("denied")
			}
		}
	})
}

// TestBankPolicies keeps the bank's policies loadable from this package too.
func TestBankPolicies(t *testing.T) {
	tf, err := LoadTestFile("../../../examples/bank/policies/tests.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := tf.Engine()
	if err != nil {
		t.Fatal(err)
	}
	var out testWriter
	if failed := tf.Run(e, &out); failed != 0 {
		t.Fatalf("%d failed:\n%s", failed, out)
	}
}

type testWriter []byte

func (w *testWriter) Write(p []byte) (int, error) { *w = append(*w, p...); return len(p), nil }
