package identity

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var serviceNameCases = []struct {
	name   string
	id     string
	want   string
	wantOK bool
}{
	{"service", "spiffe://bank.test/svc/accounts", "accounts", true},
	{"dashes and digits", "spiffe://bank.test/svc/ledger-2", "ledger-2", true},
	{"nested path", "spiffe://bank.test/svc/accounts/admin", "", false},
	{"no name", "spiffe://bank.test/svc", "", false},
	{"other prefix", "spiffe://bank.test/ns/svc/accounts", "", false},
	{"prefix without slash", "spiffe://bank.test/svcaccounts", "", false},
	{"trust domain only", "spiffe://bank.test", "", false},
	{"upper-case prefix", "spiffe://bank.test/SVC/accounts", "", false},
}

func TestServiceName(t *testing.T) {
	for _, tc := range serviceNameCases {
		t.Run(tc.name, func(t *testing.T) {
			id := spiffeid.RequireFromString(tc.id)
			got, ok := ServiceName(id)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ServiceName(%s) = %q, %v; want %q, %v", tc.id, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// FuzzServiceName checks that ServiceName never panics, never returns a name holding '/',
// and that any name it returns round-trips through ServiceID to the same ID.
func FuzzServiceName(f *testing.F) {
	for _, tc := range serviceNameCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := spiffeid.FromString(s)
		if err != nil {
			return
		}
		name, ok := ServiceName(id)
		if !ok {
			if name != "" {
				t.Fatalf("ServiceName(%q) = %q, false; want an empty name when not ok", s, name)
			}
			return
		}
		if name == "" || strings.Contains(name, "/") {
			t.Fatalf("ServiceName(%q) = %q; want a non-empty name without '/'", s, name)
		}
		back, err := ServiceID(id.TrustDomain(), name)
		if err != nil {
			t.Fatalf("ServiceID(%q, %q): %v", id.TrustDomain(), name, err)
		}
		if back != id {
			t.Fatalf("ServiceID(ServiceName(%q)) = %s; want %s", s, back, id)
		}
	})
}
