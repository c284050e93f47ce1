package authz

import (
	"strings"
	"sync"
	"testing"
)

func TestDenyByDefault(t *testing.T) {
	e := newTestEngine(t, nil)
	v := e.DecideWorkload(mesh("notifications", "ledger", "GET", "/balances/A-1"))
	expectVerdict(t, v, "deny")
	if v.Reason == "" {
		t.Error("a default deny should say why")
	}
}

func TestForbidWins(t *testing.T) {
	e := newTestEngine(t, map[string]string{"deny.cedar": `
@id("no-admin-delete")
forbid (principal, action == Action::"DELETE", resource) when { resource.patterns.contains("/admin/**") };
@id("also-permit")
permit (principal, action, resource) when { resource.path == "/admin/x" };`})
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "DELETE", "/admin/x")), "deny", "no-admin-delete")
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "PUT", "/admin/x")), "allow", "also-permit", "services[0].allow[1]")
}

// A forbid that cannot be evaluated denies: Cedar would skip it, which fails open. An
// overflow passes the schema but fails at run time.
func TestForbidErrorFailsClosed(t *testing.T) {
	e := newTestEngine(t, map[string]string{"overflow.cedar": `
@id("overflow")
forbid (principal, action, resource) when { context.hour * 9223372036854775807 > 0 };`})
	v := e.DecideWorkload(mesh("payments", "ledger", "PUT", "/entries"))
	expectVerdict(t, v, "deny", "overflow")
	if len(v.Errors) != 1 || v.Errors[0].Policy != "overflow" {
		t.Errorf("errors %+v, want one for overflow", v.Errors)
	}
}

func TestDryRun(t *testing.T) {
	e := newTestEngine(t, map[string]string{"dry.cedar": `
@id("dry-forbid-delete")
@dry_run("true")
forbid (principal, action == Action::"DELETE", resource);

@id("dry-permit-accounts-entries")
@dry_run("true")
permit (principal == Workload::"spiffe://test.local/svc/accounts", action == Action::"POST", resource)
when { resource.path == "/entries" };

@id("enforced-forbid-trace")
forbid (principal, action == Action::"TRACE", resource);`})
	// A dry-run forbid that matches: allowed, would deny.
	v := e.DecideWorkload(mesh("payments", "ledger", "DELETE", "/entries"))
	expectVerdict(t, v, "would_deny", "services[0].allow[1]", "dry-forbid-delete")
	if !v.Allow || !strings.Contains(v.Reason, "would deny") {
		t.Errorf("verdict %+v", v)
	}
	// Allowed only by a dry-run permit: allowed, would deny once the permit is withdrawn.
	v = e.DecideWorkload(mesh("accounts", "ledger", "POST", "/entries"))
	expectVerdict(t, v, "would_deny", "dry-permit-accounts-entries")
	// A dry-run permit next to an enforced one: a plain allow.
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "POST", "/entries")), "allow", "services[0].allow[1]")
	// Dry-run policies never turn a deny into an allow, nor name themselves in it.
	v = e.DecideWorkload(mesh("notifications", "ledger", "DELETE", "/entries"))
	expectVerdict(t, v, "deny")
	if len(v.DryRun) != 0 {
		t.Errorf("dry run on a deny: %v", v.DryRun)
	}
	// An enforced forbid still denies.
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "TRACE", "/entries")), "deny", "enforced-forbid-trace")
	// Outside every dry-run policy: a plain allow.
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "PUT", "/entries")), "allow")
}

func TestOwnerFromEntities(t *testing.T) {
	e := newTestEngine(t, map[string]string{
		"entities.json": `[{"uid": {"type": "Path", "id": "/api/acct/A-1"}, "attrs": {"owner": {"__entity": {"type": "User", "id": "alice"}}}, "parents": []}]`,
		"owner.cedar": `
@id("owner-only")
forbid (principal is User, action, resource) when { resource.patterns.contains("/api/acct/**") }
unless { resource has owner && resource.owner == principal };
@id("in-parent")
forbid (principal, action == Action::"DELETE", resource in Path::"/api/acct/A-1");`,
	})
	expectVerdict(t, e.DecideUser(user("alice", nil, nil, "GET", "/api/acct/A-1")), "allow", "gateway.routes[2]")
	expectVerdict(t, e.DecideUser(user("alice", nil, nil, "GET", "/api/acct/A-1/balance")), "allow")
	expectVerdict(t, e.DecideUser(user("bob", nil, nil, "GET", "/api/acct/A-1")), "deny", "owner-only")
	expectVerdict(t, e.DecideUser(user("alice", nil, nil, "GET", "/api/acct/A-2")), "deny", "owner-only")
	expectVerdict(t, e.DecideUser(user("alice", nil, nil, "DELETE", "/api/acct/A-1/x")), "deny", "in-parent")
}

func TestEndUserOnlyFromGateway(t *testing.T) {
	e := newTestEngine(t, map[string]string{"user.cedar": `
@id("alice-via-gateway")
permit (principal, action, resource) when { context has user && context.user == User::"alice" };`})
	req := mesh("gateway", "ledger", "GET", "/x")
	req.EndUser = &User{Name: "alice"}
	expectVerdict(t, e.DecideWorkload(req), "allow", "alice-via-gateway")
	req.Caller = workload("payments")
	expectVerdict(t, e.DecideWorkload(req), "deny")
}

func TestConcurrentDecisions(t *testing.T) {
	e := newTestEngine(t, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if !e.DecideWorkload(mesh("accounts", "ledger", "GET", "/balances/A-1")).Allow {
					t.Error("denied")
				}
			}
		})
	}
	wg.Wait()
}
