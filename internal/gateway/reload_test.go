package gateway

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

const freezeAlice = `@id("freeze-alice")
forbid (principal == User::"alice", action, resource);
`

// reloadState compiles yaml (testConfig with fail-open off, after edit) and a policy
// directory holding policies (none when empty).
func reloadState(t *testing.T, edit func(string) string, policies string) (*config.Config, *authz.Engine) {
	t.Helper()
	y := strings.Replace(testConfig, "FAILOPEN", "false", 1)
	if edit != nil {
		y = edit(y)
	}
	cfg, err := config.Parse("reload.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if policies != "" {
		if err := os.WriteFile(filepath.Join(dir, "p.cedar"), []byte(policies), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e, err := authz.NewEngine(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, e
}

func (h *harness) status(path, token string) int {
	h.t.Helper()
	resp, _ := h.get(path, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode
}

func TestPrepareCommitSwapsPolicies(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice := h.token("alice", []string{"customer"}, "")
	if got := h.status("/api/accounts/alice", alice); got != http.StatusOK {
		t.Fatalf("before: got %d, want 200", got)
	}
	before := h.gw.live.current()
	commit, err := h.gw.Prepare(reloadState(t, nil, freezeAlice))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if got := h.status("/api/accounts/alice", alice); got != http.StatusOK {
		t.Fatalf("prepared, not committed: got %d, want 200", got)
	}
	commit()
	if got := h.status("/api/accounts/alice", alice); got != http.StatusForbidden {
		t.Fatalf("committed: got %d, want 403", got)
	}
	evs := h.auditEvents()
	if last := evs[len(evs)-1]; last.Outcome != audit.Deny || !slices.Equal(last.Policies, []string{"freeze-alice"}) {
		t.Errorf("audit: got %+v, want a deny by freeze-alice", last)
	}
	after := h.gw.live.current()
	for name, u := range before.upstream {
		if after.upstream[name] != u {
			t.Errorf("upstream %s was rebuilt although its settings did not change (breaker and pool lost)", name)
		}
	}
	if after.inFlight != before.inFlight {
		t.Error("in-flight slots were rebuilt although max_in_flight did not change")
	}
}

func TestPrepareRebuildsOnlyWhatChanged(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	before := h.gw.live.current()
	commit, err := h.gw.Prepare(reloadState(t, func(y string) string {
		return strings.Replace(y, "upstream: unix:accounts.sock\n", "upstream: unix:accounts.sock\n    resilience: {timeout: 3s}\n", 1)
	}, ""))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	commit()
	after := h.gw.live.current()
	if after.upstream["accounts"] == before.upstream["accounts"] {
		t.Error("accounts' upstream kept although its resilience changed")
	}
	if after.upstream["payments"] != before.upstream["payments"] {
		t.Error("payments' upstream rebuilt although nothing of it changed")
	}
	if after.routes[0].upstream != after.upstream["accounts"] || after.routes[1].upstream != after.upstream["payments"] {
		t.Error("routes do not use the generation's upstreams")
	}
	alice := h.token("alice", []string{"customer"}, "")
	if got := h.status("/api/accounts/alice", alice); got != http.StatusOK {
		t.Errorf("through the new upstream: got %d, want 200", got)
	}
}

func TestPrepareFailureKeepsTheRunningGeneration(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	before := h.gw.live.current()
	// A route to a service the gateway has no peer address for cannot be built.
	_, err := h.gw.Prepare(reloadState(t, func(y string) string {
		y = strings.Replace(y, "services:\n", "services:\n  - name: extra\n    upstream: unix:extra.sock\n", 1)
		return strings.Replace(y, "  routes:\n", "  routes:\n    - path: /extra\n      service: extra\n", 1)
	}, freezeAlice))
	if err == nil || !strings.Contains(err.Error(), `no peer address for "extra"`) {
		t.Fatalf("Prepare: got %v, want the missing peer", err)
	}
	if h.gw.live.current() != before {
		t.Error("a failed Prepare changed the running generation")
	}
	if got := h.status("/api/accounts/alice", h.token("alice", []string{"customer"}, "")); got != http.StatusOK {
		t.Errorf("after a failed Prepare: got %d, want 200", got)
	}
}

// TestSwapUnderLoad swaps between two policy sets while requests run (go test -race): every
// request completes, and its answer and its audit event agree, so each request saw one
// generation from start to end.
func TestSwapUnderLoad(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	alice := h.token("alice", []string{"customer"}, "")
	allowCfg, allowEngine := reloadState(t, nil, "")
	denyCfg, denyEngine := reloadState(t, nil, freezeAlice)
	const workers, perWorker = 4, 25
	results := make(chan [2]string, workers*perWorker)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				req, _ := http.NewRequest(http.MethodGet, h.url+"/api/accounts/alice", nil)
				req.Header.Set("Authorization", "Bearer "+alice)
				resp, err := h.client.Do(req)
				if err != nil {
					t.Errorf("request failed during swaps: %v", err)
					return
				}
				resp.Body.Close()
				results <- [2]string{resp.Header.Get("X-Request-Id"), resp.Status}
			}
		})
	}
	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				swapped <- n
				return
			default:
			}
			cfg, e := allowCfg, allowEngine
			if n%2 == 0 {
				cfg, e = denyCfg, denyEngine
			}
			commit, err := h.gw.Prepare(cfg, e)
			if err != nil {
				t.Errorf("Prepare: %v", err)
				swapped <- n
				return
			}
			commit()
			n++
		}
	}()
	wg.Wait()
	close(stop)
	if n := <-swapped; n < 2 {
		t.Errorf("only %d swaps happened during the requests", n)
	}
	close(results)
	byID := map[string]audit.Event{}
	for _, e := range h.auditEvents() {
		if e.Kind == audit.KindAuthz {
			byID[e.RequestID] = e
		}
	}
	var allowed, denied int
	for r := range results {
		ev, ok := byID[r[0]]
		switch {
		case !ok:
			t.Errorf("request %s (%s) has no authz audit event", r[0], r[1])
		case r[1] == "200 OK" && ev.Outcome == audit.Allow:
			allowed++
		case r[1] == "403 Forbidden" && ev.Outcome == audit.Deny && slices.Equal(ev.Policies, []string{"freeze-alice"}):
			denied++
		default:
			t.Errorf("request %s: answered %s but audited %+v", r[0], r[1], ev)
		}
	}
	if allowed+denied != workers*perWorker {
		t.Errorf("consistent answers: %d allowed + %d denied, want %d", allowed, denied, workers*perWorker)
	}
}
