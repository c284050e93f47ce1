package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadStack is a second `bulwark up` on its own copy of the test config, policies and
// accounts OpenAPI document, so that editing them does not disturb the shared stack.
type reloadStack struct {
	up       *upProc
	cfg      string
	policies string
	api      string // the accounts route's OpenAPI document
	state    string
	ep       endpoints
	client   *http.Client
}

func startReloadStack(t *testing.T) *reloadStack {
	t.Helper()
	dir := t.TempDir()
	s := &reloadStack{cfg: filepath.Join(dir, "bulwark.yaml"), policies: filepath.Join(dir, "policies"), state: filepath.Join(dir, "state"),
		api: filepath.Join(dir, "accounts.yaml")}
	if err := writeTestConfig(s.cfg, env.echo.URL); err != nil {
		t.Fatal(err)
	}
	// The accounts route reads its own copy of the document, named relative to the config.
	bankAPI := withBankOpenAPI("openapi: openapi/accounts.yaml")
	cfg := readFile(t, s.cfg)
	if !strings.Contains(cfg, bankAPI) {
		t.Fatalf("the test config has no %q", bankAPI)
	}
	if err := os.WriteFile(s.cfg, []byte(strings.Replace(cfg, bankAPI, "openapi: accounts.yaml", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.api, []byte(readFile(t, "../examples/bank/openapi/accounts.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := startUp(s.cfg, s.state)
	if err != nil {
		t.Fatal(err)
	}
	s.up = p
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("stop: %v\nstderr: %s", err, tail(p.Stderr()))
		}
	})
	b, err := os.ReadFile(filepath.Join(s.state, "endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s.ep); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, s.ep.CABundle))) {
		t.Fatal("ca_bundle holds no certificate")
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return s
}

func (s *reloadStack) token(t *testing.T, user string) string {
	t.Helper()
	out, errOut, code := bw(t, "token", "--state-dir", s.state, "--user", user)
	if code != 0 {
		t.Fatalf("bulwark token --user %s: exit %d: %s", user, code, errOut)
	}
	return strings.TrimSpace(out)
}

// get returns the status and the request id of GET path with token.
func (s *reloadStack) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.ep.Gateway+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Request-Id")
}

// eventually polls get until it answers want, for at most 2 s.
func (s *reloadStack) eventually(t *testing.T, path, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, _ := s.get(t, path, token)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: still %d 2 s after the change, want %d\nstderr tail: %s", path, code, want, tail(s.up.Stderr()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// audit returns the audit events of this stack that contain every substring.
func (s *reloadStack) audit(t *testing.T, subs ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(readFile(t, s.ep.AuditLog), "\n") {
		if line == "" || slices.ContainsFunc(subs, func(sub string) bool { return !strings.Contains(line, sub) }) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}

func (s *reloadStack) write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.policies, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHotReload edits the policies and the config of a running `bulwark up`.
func TestHotReload(t *testing.T) {
	s := startReloadStack(t)
	alice := s.token(t, "alice")
	const own = "/api/accounts/A-1001"
	if code, _ := s.get(t, own, alice); code != http.StatusOK {
		t.Fatalf("alice reads her account before any change: got %d", code)
	}

	t.Run("an edited policy decides within 2 s, without a restart", func(t *testing.T) {
		s.write(t, "freeze.cedar", `@id("e2e.freeze-alice")
forbid (principal == User::"alice", action, resource);
`)
		s.eventually(t, own, alice, http.StatusForbidden)
		_, rid := s.get(t, own, alice)
		evs := s.audit(t, rid, `"kind":"authz"`, `"component":"gateway"`)
		if len(evs) != 1 || evs[0]["outcome"] != "deny" || !hasString(evs[0]["policies"], "e2e.freeze-alice") {
			t.Errorf("audit of the denied request: got %v, want one deny naming e2e.freeze-alice", evs)
		}
		if err := os.Remove(filepath.Join(s.policies, "freeze.cedar")); err != nil {
			t.Fatal(err)
		}
		s.eventually(t, own, alice, http.StatusOK)
		// The reloader records the event after it swaps the state in: wait for it.
		waitFor(t, "policy_change allow events for the two reloads", func() bool {
			return len(s.audit(t, `"kind":"policy_change"`, `"outcome":"allow"`)) >= 2
		})
	})

	t.Run("a broken policy keeps the running policies and says why", func(t *testing.T) {
		s.write(t, "broken.cedar", "// a typo on line 2\npermit (principal, action, resource) when { principal.roles.contains( };\n")
		file := filepath.Join(s.policies, "broken.cedar")
		waitFor(t, "the broken policy to be reported", func() bool {
			return len(s.audit(t, `"kind":"policy_change"`, `"outcome":"deny"`, file+":2")) > 0
		})
		// The log line and the audit event are written one after the other: wait for both.
		waitFor(t, "an ERROR log line naming "+file+":2", func() bool {
			return strings.Contains(s.up.Stderr(), `"level":"ERROR"`) && strings.Contains(s.up.Stderr(), file+":2")
		})
		if code, _ := s.get(t, own, alice); code != http.StatusOK {
			t.Errorf("alice reads her account with a broken policy file present: got %d, want 200 (old policies kept)", code)
		}
		if code, _ := s.get(t, "/api/accounts/A-1002", alice); code != http.StatusForbidden {
			t.Errorf("alice reads bob's account: got %d, want 403 (old policies kept)", code)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a dry-run forbid lets the request through and is audited as would deny", func(t *testing.T) {
		s.write(t, "dryrun.cedar", `@id("e2e.customers-dry-run")
@dry_run("true")
forbid (principal, action, resource) when { principal is User && principal.roles.contains("customer") };
`)
		var rid string
		waitFor(t, "the dry-run policy to apply", func() bool {
			code, id := s.get(t, own, alice)
			if code != http.StatusOK {
				t.Fatalf("alice under a dry-run forbid: got %d, want 200", code)
			}
			rid = id
			return len(s.audit(t, rid, `"would_deny":true`)) > 0
		})
		ev := s.audit(t, rid, `"component":"gateway"`, `"kind":"authz"`)
		if len(ev) != 1 || ev[0]["outcome"] != "allow" || !hasString(ev[0]["dry_run"], "e2e.customers-dry-run") || !hasString(ev[0]["policies"], "gateway.routes[1]") {
			t.Errorf("audit: got %v, want outcome allow, would_deny, dry_run [e2e.customers-dry-run], policies [gateway.routes[1]]", ev)
		}
		waitFor(t, "the would-deny decision in the log", func() bool {
			return strings.Contains(s.up.Stderr(), "dry-run policy would deny")
		})
		if err := os.Remove(filepath.Join(s.policies, "dryrun.cedar")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a key that needs a restart is refused by name", func(t *testing.T) {
		cfg := readFile(t, s.cfg)
		changed := strings.Replace(cfg, "trust_domain: bank.local", "trust_domain: other.local", 1)
		if changed == cfg {
			t.Fatal("config has no trust_domain: bank.local")
		}
		if err := os.WriteFile(s.cfg, []byte(changed), 0o600); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the refusal", func() bool {
			return len(s.audit(t, `"kind":"config_change"`, `"outcome":"deny"`, "trust_domain: changed")) > 0
		})
		if code, _ := s.get(t, own, alice); code != http.StatusOK {
			t.Errorf("after a refused reload: got %d, want 200", code)
		}
		if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SIGHUP reloads", func(t *testing.T) {
		before := len(s.audit(t, `"kind":"config_change"`, `signal hangup`))
		if err := s.up.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the SIGHUP reload", func() bool {
			return len(s.audit(t, `"kind":"config_change"`, `"outcome":"allow"`, `signal hangup`)) > before
		})
		if code, _ := s.get(t, own, alice); code != http.StatusOK {
			t.Errorf("after SIGHUP: got %d, want 200 (the process lives on)", code)
		}
	})

	// Last: every earlier subtest has waited for its reload, so none can pick up the edit.
	t.Run("an edited OpenAPI document applies within 2 s; a broken one is refused by file:line", func(t *testing.T) {
		doc := readFile(t, s.api)
		const idPattern = `pattern: "^A-[0-9]{4,12}$"`
		if !strings.Contains(doc, idPattern) {
			t.Fatalf("the accounts document has no %s", idPattern)
		}
		applied := func() int {
			return len(s.audit(t, `"kind":"config_change"`, `"outcome":"allow"`, "reloaded (file change)"))
		}
		before := applied()
		// Five digits at least: A-1001 no longer matches, and the gateway answers 400.
		saveByRename(t, s.api, strings.Replace(doc, idPattern, `pattern: "^A-[0-9]{5,12}$"`, 1))
		s.eventually(t, own, alice, http.StatusBadRequest)
		waitFor(t, "a config_change allow event for the edit", func() bool { return applied() > before })

		saveByRename(t, s.api, strings.Replace(doc, "type: string\n        "+idPattern, "type: strnig\n        "+idPattern, 1))
		// kin-openapi names the parameter whose schema is broken.
		loc := fmt.Sprintf("%s:%d:", s.api, 1+strings.Count(doc[:strings.Index(doc, "    AccountID:")], "\n"))
		waitFor(t, "the broken document to be reported at "+loc, func() bool {
			return len(s.audit(t, `"kind":"config_change"`, `"outcome":"deny"`, loc)) > 0
		})
		waitFor(t, "an ERROR log line naming "+loc, func() bool {
			return strings.Contains(s.up.Stderr(), `"level":"ERROR"`) && strings.Contains(s.up.Stderr(), loc)
		})
		if code, _ := s.get(t, own, alice); code != http.StatusBadRequest {
			t.Errorf("after a refused document: got %d, want 400 (the edited document kept)", code)
		}
		saveByRename(t, s.api, doc)
		s.eventually(t, own, alice, http.StatusOK)
	})
}

// saveByRename writes file as editors that save by renaming do.
func saveByRename(t *testing.T, file, body string) {
	t.Helper()
	if err := os.WriteFile(file+".tmp", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
}

func hasString(v any, want string) bool {
	list, _ := v.([]any)
	return slices.Contains(list, any(want))
}
