package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Runs last (files run in name order): Ctrl-C stops `up` cleanly, and a second start on the
// same state dir reuses the CA, keys and demo passwords.
func TestCtrlCStopsCleanlyAndRestartReusesState(t *testing.T) {
	trustBefore := readFile(t, env.ep.TrustBundle)
	credsBefore := readFile(t, filepath.Join(env.state, "dev-credentials.json"))
	gw := strings.TrimPrefix(env.ep.Gateway, "https://")

	if err := env.up.Stop(); err != nil {
		t.Fatalf("bulwark up after SIGINT: %v\nstderr tail: %s", err, tail(env.up.Stderr()))
	}
	if !strings.Contains(env.up.Stdout(), "stopped") {
		t.Error("bulwark up did not say it stopped")
	}
	if c, err := net.Dial("tcp", gw); err == nil {
		c.Close()
		t.Errorf("gateway %s still accepts connections after shutdown", gw)
	}

	p, err := startUp(env.cfg, env.state)
	if err != nil {
		t.Fatal(err)
	}
	env.up = p
	if err := loadEndpoints(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"generated", "created the workload CA"} {
		if strings.Contains(p.Stdout(), s) {
			t.Errorf("second start said %q: state was not reused", s)
		}
	}
	if readFile(t, env.ep.TrustBundle) != trustBefore {
		t.Error("trust bundle changed across restart")
	}
	if readFile(t, filepath.Join(env.state, "dev-credentials.json")) != credsBefore {
		t.Error("dev credentials changed across restart")
	}
	alice := tokenFor(t, "alice")
	if code, body, _ := call(t, http.MethodGet, "/api/accounts/A-1001", alice, nil, nil); code != http.StatusOK {
		t.Errorf("after restart alice reads her account: got %d (%s)", code, body)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
