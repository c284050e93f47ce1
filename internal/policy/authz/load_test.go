package authz

import (
	"strings"
	"testing"
)

// Every problem of every file is reported at once, each with file:line.
func TestLoadErrorsAllAtOnceWithPosition(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"a.cedar": "permit (principal, action, resource);\n\nforbid (principal, action, resource) when { context.x == };\n",
		"b.cedar": "@id(\"typo\")\npermit (principal, action, resource)\nwhen { principal.role.contains(\"x\") };\n",
		"c.cedar": "@id(\"verb\")\npermit (principal, action == Action::\"FETCH\", resource);\n" +
			"@id(\"dry\")\n@dry_run(\"yes\")\nforbid (principal, action, resource);\n",
		"d.cedar":       "@id(\"services[0].allow[0]\")\npermit (principal, action, resource);\n",
		"entities.json": `[{"uid": {"type": "Path", "id": "/x"}, "attrs": {"owner": "alice"}, "parents": []}]`,
	})
	_, err := NewEngine(loadTestConfig(t), dir)
	if err == nil {
		t.Fatal("NewEngine accepted broken policies")
	}
	msg := err.Error()
	for _, want := range []string{
		dir + "/a.cedar:3:",
		dir + "/b.cedar:1:1: policy \"typo\" does not match the schema: ",
		"attribute `role`",
		dir + "/c.cedar:1:1: policy \"verb\"",
		dir + "/c.cedar:3:1: policy \"dry\": @dry_run must be",
		dir + "/d.cedar:1:1: duplicate policy id \"services[0].allow[0]\" (also at bulwark.yaml",
		"entities.json: entity Path::\"/x\": owner must be a User",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestPolicyWithoutIDIsNamedByPosition(t *testing.T) {
	e := newTestEngine(t, map[string]string{"x.cedar": "\n\nforbid (principal, action == Action::\"DELETE\", resource);\n"})
	expectVerdict(t, e.DecideWorkload(mesh("payments", "ledger", "DELETE", "/entries")), "deny", "x.cedar:3")
}

func TestNoPolicyDir(t *testing.T) {
	e, err := NewEngine(loadTestConfig(t), "")
	if err != nil {
		t.Fatal(err)
	}
	expectVerdict(t, e.DecideWorkload(mesh("accounts", "ledger", "GET", "/balances/A-1")), "allow", "services[0].allow[0]")
}
