package policy

import (
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var (
	accounts      = spiffeid.RequireFromString("spiffe://bank.local/svc/accounts")
	payments      = spiffeid.RequireFromString("spiffe://bank.local/svc/payments")
	notifications = spiffeid.RequireFromString("spiffe://bank.local/svc/notifications")
	gateway       = spiffeid.RequireFromString("spiffe://bank.local/svc/gateway")
	// Same path, other trust domain: must not be confused with payments.
	foreignPayments = spiffeid.RequireFromString("spiffe://evil.local/svc/payments")
)

func mustParse(t testing.TB, s string) Pattern {
	t.Helper()
	p, err := ParsePattern(s)
	if err != nil {
		t.Fatalf("ParsePattern(%q): %v", s, err)
	}
	return p
}

// ledgerMesh is the ledger's rules from the reference bank, plus an admin rule using "*".
func ledgerMesh(t testing.TB) *Mesh {
	return NewMesh([]MeshRule{
		{Name: "services[2].allow[0]", Caller: accounts, Methods: []string{"GET"}, Paths: []Pattern{mustParse(t, "/balances/*")}},
		{Name: "services[2].allow[1]", Caller: payments, Methods: []string{"POST"}, Paths: []Pattern{mustParse(t, "/entries")}},
		{Name: "services[2].allow[2]", Caller: gateway, Methods: []string{"*"}, Paths: []Pattern{mustParse(t, "/admin/**"), mustParse(t, "/health")}},
	})
}

func TestMeshDecide(t *testing.T) {
	m := ledgerMesh(t)
	tests := []struct {
		name     string
		caller   spiffeid.ID
		method   string
		path     string
		wantRule string // empty: denied
	}{
		{"accounts reads a balance", accounts, "GET", "/balances/42", "services[2].allow[0]"},
		{"payments posts an entry", payments, "POST", "/entries", "services[2].allow[1]"},
		{"star method, first path", gateway, "DELETE", "/admin/cache", "services[2].allow[2]"},
		{"star method, second path", gateway, "GET", "/health", "services[2].allow[2]"},
		{"star method, double star matches zero segments", gateway, "PATCH", "/admin", "services[2].allow[2]"},
		{"other caller", notifications, "POST", "/entries", ""},
		{"caller allowed elsewhere, not here", accounts, "POST", "/entries", ""},
		{"other trust domain, same path", foreignPayments, "POST", "/entries", ""},
		{"zero caller", spiffeid.ID{}, "POST", "/entries", ""},
		{"other method", payments, "GET", "/entries", ""},
		{"method case matters", payments, "post", "/entries", ""},
		{"other path", payments, "POST", "/entries/1", ""},
		{"star needs a segment", accounts, "GET", "/balances/", ""},
		{"star matches one segment only", accounts, "GET", "/balances/4/2", ""},
		{"path case matters", accounts, "GET", "/Balances/42", ""},
		{"star method, other path", gateway, "GET", "/entries", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := m.Decide(tt.caller, tt.method, tt.path)
			if got, want := d.Allow, tt.wantRule != ""; got != want {
				t.Fatalf("Allow: got %v, want %v (decision %+v)", got, want, d)
			}
			if got, want := d.Rule, tt.wantRule; got != want {
				t.Errorf("Rule: got %q, want %q", got, want)
			}
			wantReason := "allowed by " + tt.wantRule
			if tt.wantRule == "" {
				wantReason = "no rule allows " + tt.caller.String() + " to " + tt.method + " " + tt.path
			}
			if got := d.Reason; got != wantReason {
				t.Errorf("Reason: got %q, want %q", got, wantReason)
			}
		})
	}
}

func TestZeroMeshDeniesEverything(t *testing.T) {
	tests := []struct {
		name string
		mesh *Mesh
	}{
		{"zero value", &Mesh{}},
		{"no rules", NewMesh(nil)},
		{"rule without methods", NewMesh([]MeshRule{{Name: "r", Caller: accounts, Paths: []Pattern{mustParse(t, "/**")}}})},
		{"rule without paths", NewMesh([]MeshRule{{Name: "r", Caller: accounts, Methods: []string{"*"}}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/", "/balances/42", "/entries"} {
				if d := tt.mesh.Decide(accounts, "GET", path); d.Allow || d.Rule != "" {
					t.Errorf("Decide(GET %s): got %+v, want a default deny", path, d)
				}
			}
		})
	}
}

// TestMeshNeverMatchesZeroCaller: a caller without a SPIFFE ID (no or unparsable peer
// certificate) must be denied even by a rule whose Caller was left unset.
func TestMeshNeverMatchesZeroCaller(t *testing.T) {
	m := NewMesh([]MeshRule{{Name: "unset caller", Methods: []string{"*"}, Paths: []Pattern{mustParse(t, "/**")}}})
	if d := m.Decide(spiffeid.ID{}, "GET", "/entries"); d.Allow {
		t.Errorf("Decide(zero caller): got %+v, want deny", d)
	}
}

// TestNewMeshCopiesRules proves that changing the caller's slice after NewMesh does not
// change decisions: a policy swap must be explicit.
func TestNewMeshCopiesRules(t *testing.T) {
	rules := []MeshRule{{Name: "r", Caller: accounts, Methods: []string{"GET"}, Paths: []Pattern{mustParse(t, "/a")}}}
	m := NewMesh(rules)
	rules[0].Caller = payments
	if d := m.Decide(accounts, "GET", "/a"); !d.Allow {
		t.Errorf("after mutating the input slice: got %+v, want allow for accounts", d)
	}
	if d := m.Decide(payments, "GET", "/a"); d.Allow {
		t.Errorf("after mutating the input slice: got %+v, want deny for payments", d)
	}
}

func TestDecideRoute(t *testing.T) {
	tellerOrCustomer := RouteRequirement{Name: "gateway.routes[0]", Roles: []string{"customer", "teller"}}
	readAndWrite := RouteRequirement{Name: "gateway.routes[1]", Scopes: []string{"accounts.read", "accounts.write"}}
	both := RouteRequirement{Name: "gateway.routes[2]", Roles: []string{"teller"}, Scopes: []string{"accounts.read"}}
	open := RouteRequirement{Name: "gateway.routes[3]"}
	tests := []struct {
		name       string
		req        RouteRequirement
		roles      []string
		scopes     []string
		wantAllow  bool
		wantReason string
	}{
		{"first of any-of roles", tellerOrCustomer, []string{"customer"}, nil, true, "allowed by gateway.routes[0]"},
		{"second of any-of roles", tellerOrCustomer, []string{"auditor", "teller"}, nil, true, "allowed by gateway.routes[0]"},
		{"no matching role", tellerOrCustomer, []string{"auditor"}, nil, false, "token lacks a required role"},
		{"no roles at all", tellerOrCustomer, nil, nil, false, "token lacks a required role"},
		{"role case matters", tellerOrCustomer, []string{"Teller"}, nil, false, "token lacks a required role"},
		{"all scopes", readAndWrite, nil, []string{"accounts.write", "accounts.read"}, true, "allowed by gateway.routes[1]"},
		{"one of two scopes", readAndWrite, nil, []string{"accounts.read"}, false, "token lacks required scope accounts.write"},
		{"no scopes", readAndWrite, nil, nil, false, "token lacks required scope accounts.read"},
		{"role and scope", both, []string{"teller"}, []string{"accounts.read"}, true, "allowed by gateway.routes[2]"},
		{"role without scope", both, []string{"teller"}, nil, false, "token lacks required scope accounts.read"},
		{"scope without role", both, []string{"customer"}, []string{"accounts.read"}, false, "token lacks a required role"},
		{"nothing required", open, nil, nil, true, "allowed by gateway.routes[3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecideRoute(tt.req, tt.roles, tt.scopes)
			if got := d.Allow; got != tt.wantAllow {
				t.Errorf("Allow: got %v, want %v", got, tt.wantAllow)
			}
			if got, want := d.Rule, tt.req.Name; got != want {
				t.Errorf("Rule: got %q, want %q", got, want)
			}
			if got := d.Reason; got != tt.wantReason {
				t.Errorf("Reason: got %q, want %q", got, tt.wantReason)
			}
		})
	}
}
