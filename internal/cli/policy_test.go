package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runPolicyTest runs `bulwark policy test file` and returns stdout and the exit code.
func runPolicyTest(t *testing.T, file string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRoot(&out, &errOut)
	root.SetArgs([]string{"policy", "test", file})
	err := root.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String() + err.Error(), ee.code
	default:
		return out.String() + err.Error(), 1
	}
}

func TestPolicyTestBank(t *testing.T) {
	out, code := runPolicyTest(t, "../../examples/bank/policies/tests.yaml")
	if code != 0 || !strings.Contains(out, " passed, 0 failed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// writeTests writes a test file next to copies-by-reference of the bank's config and policies.
func writeTests(t *testing.T, body string) string {
	t.Helper()
	bank, err := filepath.Abs("../../examples/bank")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "tests.yaml")
	body = strings.ReplaceAll(body, "BANK", bank)
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestPolicyTestWrongExpectation(t *testing.T) {
	file := writeTests(t, `
config: BANK/bulwark.yaml
policies: BANK/policies
cases:
  - name: alice reads bob's account
    principal: {user: alice, roles: [customer]}
    method: GET
    path: /api/accounts/A-1002
    expect: allow
`)
	out, code := runPolicyTest(t, file)
	if code != 1 || !strings.Contains(out, "FAIL  alice reads bob's account ("+file+":5): got deny [bank.accounts.owner-only], want allow") ||
		!strings.Contains(out, "0 passed, 1 failed") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestPolicyTestBrokenFile(t *testing.T) {
	file := writeTests(t, `
config: BANK/bulwark.yaml
cases:
  - name: typo
    principal: {user: alice}
    method: GET
    path: /api/accounts
    expect: alow
  - name: unknown key
    methd: GET
`)
	out, code := runPolicyTest(t, file)
	if code != 2 || !strings.Contains(out, "line 10: field methd not found") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	file = writeTests(t, `
config: BANK/bulwark.yaml
cases:
  - name: typo
    principal: {user: alice}
    method: GET
    path: /api/accounts
    expect: alow
    context: {source_ip: nowhere}
`)
	out, code = runPolicyTest(t, file)
	if code != 2 || !strings.Contains(out, file+`:4: cases[0] (typo): expect must be allow, deny or would_deny, got "alow"`) ||
		!strings.Contains(out, file+":4: cases[0] (typo): context: source_ip:") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
