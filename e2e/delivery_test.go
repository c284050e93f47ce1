package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rolesRig is the bank with every role as its own process (control, one sidecar and one
// app per service, gateway), the way Compose runs it, so that one role can be killed.
type rolesRig struct {
	t                       *testing.T
	cfgFile, state, run, gw string
	procs                   map[string]*upProc
	bankBin                 string
	order                   []string
}

func newRolesRig(t *testing.T, dir string) *rolesRig {
	t.Helper()
	r := &rolesRig{t: t, bankBin: filepath.Join(dir, "bank"), state: filepath.Join(dir, "st"), procs: map[string]*upProc{}}
	if out, err := exec.Command("go", "build", "-o", r.bankBin, "../examples/bank/cmd/bank").CombinedOutput(); err != nil {
		t.Fatalf("build bank: %v\n%s", err, out)
	}
	r.run = filepath.Join(r.state, "run")
	services := []string{"accounts", "payments", "ledger", "notifications"}
	ports := freePorts(t, len(services)+2)
	r.gw = ports[0]
	cfg := withBankOpenAPI(readFile(t, "../examples/bank/bulwark.yaml"))
	cfg = strings.Replace(cfg, "listen: 127.0.0.1:8443", "listen: "+r.gw, 1)
	cfg = strings.Replace(cfg, "\nservices:\n", "\ncontrol:\n  listen: "+ports[1]+"\n\nservices:\n", 1)
	for i, s := range services {
		up := "upstream: unix:" + s + ".sock"
		cfg = strings.Replace(cfg, up, up+"\n    listen: "+ports[2+i], 1)
	}
	r.cfgFile = filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(r.cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyBankPolicies(filepath.Join(dir, "policies")); err != nil {
		t.Fatal(err)
	}
	r.start("control")
	r.waitLog("control", "control plane started")
	for _, s := range services {
		r.start("app/" + s)
		r.start("sidecar/" + s)
	}
	r.start("gateway")
	for _, s := range services {
		r.waitLog("sidecar/"+s, "sidecar started")
	}
	r.waitLog("gateway", "gateway started")
	return r
}

// start starts (or restarts) one role by name: control, gateway, sidecar/<svc>, app/<svc>.
func (r *rolesRig) start(name string) {
	r.t.Helper()
	var p *upProc
	var err error
	kind, svc, _ := strings.Cut(name, "/")
	common := []string{"-f", r.cfgFile, "--state-dir", r.state}
	switch kind {
	case "control":
		p, err = startProc(env.bin, append([]string{"control"}, common...)...)
	case "gateway":
		p, err = startProc(env.bin, append(append([]string{"gateway"}, common...), "--workload-api", filepath.Join(r.run, "workload", "gateway", "api.sock"))...)
	case "sidecar":
		p, err = startProc(env.bin, append(append([]string{"sidecar"}, common...), "--service", svc,
			"--workload-api", filepath.Join(r.run, "workload", svc, "api.sock"), "--outbound", filepath.Join(r.run, svc+".mesh.sock"))...)
	case "app":
		p, err = startProc(r.bankBin, "-service", svc, "-listen", "unix:"+filepath.Join(r.run, svc+".sock"),
			"-mesh", filepath.Join(r.run, svc+".mesh.sock"), "-data", filepath.Join(r.state, "data"))
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if _, ok := r.procs[name]; !ok {
		r.order = append(r.order, name)
	}
	r.procs[name] = p
}

func (r *rolesRig) waitLog(name, msg string) {
	r.t.Helper()
	p := r.procs[name]
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(p.Stderr(), msg) {
		select {
		case <-p.done:
			r.t.Fatalf("%s exited: %v\n%s", name, p.err, tail(p.Stderr()))
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: no %q within 60s\n%s", name, msg, tail(p.Stderr()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill9 kills one role with SIGKILL: no shutdown code runs.
func (r *rolesRig) kill9(name string) {
	r.t.Helper()
	p := r.procs[name]
	if err := p.cmd.Process.Kill(); err != nil {
		r.t.Fatal(err)
	}
	<-p.done
}

// stopAll stops every role gracefully, the control plane last (it signs a final checkpoint).
func (r *rolesRig) stopAll() {
	for i := len(r.order) - 1; i >= 0; i-- {
		if err := r.procs[r.order[i]].Stop(); err != nil {
			r.t.Errorf("%s: stop: %v\n%s", r.order[i], err, tail(r.procs[r.order[i]].Stderr()))
		}
	}
}

// answered is one request that got a response, and the id the gateway gave it.
type answered struct {
	requestID string
	status    int
}

// TestAuditDeliveryKill9 sends a steady load of known requests through the separate-process
// stack and kills -9 first the collector (the control plane), then the accounts sidecar,
// restarting each. Every request that got a response must have its events in the
// collector's log exactly once (the gateway's; and the accounts sidecar's when it got 200),
// no event id may appear twice, and `bulwark audit verify` must pass.
func TestAuditDeliveryKill9(t *testing.T) {
	dir, err := os.MkdirTemp("", "bwdeliver")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	r := newRolesRig(t, dir)
	stopped := false
	defer func() {
		if !stopped {
			r.stopAll()
		}
	}()
	caBundle := filepath.Join(r.state, "edge", "ca.pem")
	out, errOut, code := bw(t, "token", "--state-dir", r.state, "--issuer", "https://"+r.gw+"/oidc", "--ca-bundle", caBundle, "--user", "alice")
	if code != 0 {
		t.Fatalf("bulwark token: exit %d: %s", code, errOut)
	}
	alice := strings.TrimSpace(out)
	client := clientTrusting(t, caBundle)

	var mu sync.Mutex
	var got []answered
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, "https://"+r.gw+"/api/accounts/A-1001", nil)
				req.Header.Set("Authorization", "Bearer "+alice)
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // no response: no claim about its events
					continue
				}
				resp.Body.Close()
				mu.Lock()
				got = append(got, answered{resp.Header.Get("X-Request-Id"), resp.StatusCode})
				mu.Unlock()
			}
		})
	}
	// count is the number of 200s: progress through the whole path.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range got {
			if a.status == http.StatusOK {
				n++
			}
		}
		return n
	}
	waitCount := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for count() < n && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitCount(100)
	gwMetrics := r.metricsURL("gateway")
	r.kill9("control")
	// The roles keep answering (accounts with 500: its keys live in the control plane) and
	// spooling while the collector is gone: the gateway's delivery lag, the age of its
	// oldest undelivered event, grows past the outage's length.
	waitFor(t, "the gateway's audit delivery lag to reach 3 s with the collector down", func() bool {
		events, lag := spoolGauges(t, gwMetrics)
		return events > 0 && lag >= 3
	})
	promtoolCheck(t, "the gateway with a backlog", gwMetrics)
	r.start("control")
	r.waitLog("control", "control plane started")
	waitCount(count() + 100)
	r.kill9("sidecar/accounts")
	time.Sleep(500 * time.Millisecond)
	r.start("sidecar/accounts")
	r.waitLog("sidecar/accounts", "sidecar started")
	waitCount(count() + 100)
	close(stop)
	wg.Wait()
	// Once delivery caught up, each spooling role reports an empty spool and no lag.
	for _, name := range []string{"gateway", "sidecar/accounts"} {
		u := r.metricsURL(name)
		waitFor(t, name+"'s audit spool to drain (bulwark_audit_spool_events and _delivery_lag_seconds 0)", func() bool {
			events, lag := spoolGauges(t, u)
			return events == 0 && lag == 0
		})
		promtoolCheck(t, name, u)
	}

	ok200, statuses := 0, map[int]int{}
	for _, a := range got {
		statuses[a.status]++
		if a.status == http.StatusOK {
			ok200++
		}
	}
	t.Logf("%d requests answered across the two kills, by status: %v", len(got), statuses)
	if ok200 < 300 {
		t.Logf("gateway:\n%s", r.procs["gateway"].Stderr())
		t.Fatalf("only %d requests succeeded: the load did not run", ok200)
	}

	logPath := filepath.Join(r.state, "audit", "events.jsonl")
	var counts map[string]int
	var problems []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		counts, problems = auditCounts(t, logPath)
		missing := missingEvents(got, counts)
		if len(missing) == 0 || time.Now().After(deadline) {
			if len(missing) > 0 {
				t.Errorf("%d answered requests have no event in the collector's log within 60s, e.g. %v", len(missing), missing[:min(5, len(missing))])
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s: %d events, want exactly 1", k, n)
		}
	}
	for _, name := range []string{"gateway", "sidecar/accounts"} {
		if strings.Contains(r.procs[name].Stderr(), "audit record failed") {
			t.Errorf("%s failed to spool an event (the request path must wait only on the local disk)", name)
		}
	}
	r.stopAll()
	stopped = true
	if out, errOut, code := bw(t, "audit", "verify", "--state-dir", r.state); code != 0 {
		t.Errorf("bulwark audit verify: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(r.procs["control"].Stderr(), "event id index rebuilt") {
		t.Errorf("the restarted collector did not rebuild its index")
	}
}

// auditCounts reads the log and counts events per "<component> <request id>"; problems
// lists repeated event ids and events without the reporter their component requires.
func auditCounts(t *testing.T, path string) (map[string]int, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	ids := map[string]bool{}
	var problems []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct{ ID, Component, RequestID, Reporter string }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			continue // a record being written
		}
		e.ID, _ = raw["id"].(string)
		e.Component, _ = raw["component"].(string)
		e.RequestID, _ = raw["request_id"].(string)
		e.Reporter, _ = raw["reporter"].(string)
		if ids[e.ID] {
			problems = append(problems, fmt.Sprintf("event id %s is in the log twice", e.ID))
		}
		ids[e.ID] = true
		if e.RequestID == "" || (e.Component != "gateway" && e.Component != "sidecar/accounts") {
			continue
		}
		want := "spiffe://bank.local/svc/gateway"
		if e.Component == "sidecar/accounts" {
			want = "spiffe://bank.local/svc/accounts"
		}
		if e.Reporter != want {
			problems = append(problems, fmt.Sprintf("event %s (%s): reporter %q, want %q", e.ID, e.Component, e.Reporter, want))
		}
		counts[e.Component+" "+e.RequestID]++
	}
	return counts, problems
}

func missingEvents(got []answered, counts map[string]int) []string {
	var missing []string
	for _, a := range got {
		if counts["gateway "+a.requestID] == 0 {
			missing = append(missing, fmt.Sprintf("gateway %s (%d)", a.requestID, a.status))
		}
		if a.status == http.StatusOK && counts["sidecar/accounts "+a.requestID] == 0 {
			missing = append(missing, fmt.Sprintf("sidecar/accounts %s", a.requestID))
		}
	}
	return missing
}
