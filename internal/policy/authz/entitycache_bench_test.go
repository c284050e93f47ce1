package authz

import "testing"

// BenchmarkEntityCache compares a decision with the request entities built per request
// (Uncached: the engine before the cache, kept as the baseline) and served from the cache
// (Cached), at the edge and in the mesh, in the same run. Compare ns/op and allocs/op of
// each pair; the ratio is what the cache buys on this machine.
func BenchmarkEntityCache(b *testing.B) {
	e, cfg := bankEngine(b)
	uncached := *e
	uncached.cache = nil
	ureq := UserRequest{User: User{Name: "alice", Roles: []string{"customer"}}, Method: "GET", Path: "/api/accounts/A-1001", Context: noon}
	wreq := WorkloadRequest{Caller: cfg.WorkloadID("gateway"), Service: "accounts", Method: "GET", Path: "/api/accounts/A-1001",
		EndUser: &User{Name: "alice", Roles: []string{"customer"}}, Context: noon}
	for _, eng := range []struct {
		name string
		e    *Engine
	}{{"Uncached", &uncached}, {"Cached", e}} {
		b.Run("User/"+eng.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !eng.e.DecideUser(ureq).Allow {
					b.Fatal("denied")
				}
			}
		})
		b.Run("Workload/"+eng.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !eng.e.DecideWorkload(wreq).Allow {
					b.Fatal("denied")
				}
			}
		})
	}
}
