package authz

import (
	"strings"
	"testing"
)

// TestCompiledConfigRules checks each config rule: the decision it gives and its id.
func TestCompiledConfigRules(t *testing.T) {
	e := newTestEngine(t, nil)
	tcs := []struct {
		name    string
		verdict Verdict
		outcome string
		ids     []string
	}{
		{"mesh rule allows caller, method, path", e.DecideWorkload(mesh("accounts", "ledger", "GET", "/balances/A-1")), "allow", []string{"services[0].allow[0]"}},
		{"mesh rule: other method", e.DecideWorkload(mesh("accounts", "ledger", "POST", "/balances/A-1")), "deny", nil},
		{"mesh rule: * is one segment", e.DecideWorkload(mesh("accounts", "ledger", "GET", "/balances/A-1/x")), "deny", nil},
		{"mesh rule: * is not empty", e.DecideWorkload(mesh("accounts", "ledger", "GET", "/balances/")), "deny", nil},
		{"mesh rule: other caller", e.DecideWorkload(mesh("payments", "ledger", "GET", "/balances/A-1")), "deny", nil},
		{"mesh rule: other service", e.DecideWorkload(mesh("accounts", "payments", "GET", "/balances/A-1")), "deny", nil},
		{"mesh rule: methods *", e.DecideWorkload(mesh("payments", "ledger", "DELETE", "/entries")), "allow", []string{"services[0].allow[1]"}},
		{"mesh rule: ** matches none", e.DecideWorkload(mesh("payments", "ledger", "PUT", "/admin")), "allow", []string{"services[0].allow[1]"}},
		{"mesh rule: ** matches many", e.DecideWorkload(mesh("payments", "ledger", "PUT", "/admin/a/b/c")), "allow", []string{"services[0].allow[1]"}},
		{"route: any role and all scopes", e.DecideUser(user("ann", []string{"auditor"}, []string{"reports.list", "reports.read"}, "GET", "/api/reports/q1")), "allow", []string{"gateway.routes[0]"}},
		{"route: missing scope", e.DecideUser(user("ann", []string{"auditor"}, []string{"reports.read"}, "GET", "/api/reports/q1")), "deny", nil},
		{"route: missing role", e.DecideUser(user("ann", []string{"customer"}, []string{"reports.list", "reports.read"}, "GET", "/api/reports/q1")), "deny", nil},
		{"route: first match wins", e.DecideUser(user("ann", nil, nil, "GET", "/api/reports")), "deny", nil},
		{"route: no roles needed", e.DecideUser(user("ann", nil, nil, "GET", "/api/other")), "allow", []string{"gateway.routes[2]"}},
		{"route: token required", e.DecideUser(user("", nil, nil, "GET", "/api/other")), "deny", nil},
		{"route: auth none", e.DecideUser(user("", nil, nil, "GET", "/health")), "allow", []string{"gateway.routes[1]"}},
		{"no route", e.DecideUser(user("ann", []string{"teller"}, nil, "GET", "/nothing")), "deny", nil},
		{"a workload is not a user", e.DecideWorkload(mesh("gateway", "accounts", "GET", "/api/other")), "deny", nil},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) { expectVerdict(t, tc.verdict, tc.outcome, tc.ids...) })
	}
}

func TestPolicyTextNamesEveryRule(t *testing.T) {
	text := newTestEngine(t, nil).PolicyText()
	for _, want := range []string{
		`@id("services[0].allow[0]")`,
		`principal == Workload::"spiffe://test.local/svc/accounts"`,
		`@id("gateway.routes[0]")`,
		`principal.scopes.containsAll(["reports.read", "reports.list"])`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("policy text lacks %s:\n%s", want, text)
		}
	}
}
