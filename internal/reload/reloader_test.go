package reload

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

const testConfig = `trust_domain: test.local
policies: policies
services:
  - name: accounts
    upstream: unix:accounts.sock
gateway:
  routes:
    - path: /api/**
      service: accounts
`

const freezeAlice = `@id("freeze-alice")
forbid (principal == User::"alice", action, resource);
`

// engineTarget is what a gateway is to a reload, reduced to deciding with the engine it
// was committed; fail makes Prepare fail, as a gateway whose new routes cannot be built.
type engineTarget struct {
	engine  atomic.Pointer[authz.Engine]
	cfg     atomic.Pointer[config.Config]
	fail    error
	commits atomic.Int32
}

func (e *engineTarget) Prepare(cfg *config.Config, engine *authz.Engine) (func(), error) {
	if e.fail != nil {
		return nil, e.fail
	}
	return func() { e.engine.Store(engine); e.cfg.Store(cfg); e.commits.Add(1) }, nil
}

func (e *engineTarget) aliceAllowed() bool {
	return e.engine.Load().DecideUser(authz.UserRequest{User: authz.User{Name: "alice"}, Method: "GET", Path: "/api/x"}).Allow
}

type fixture struct {
	dir, file, policies, auditFile string
	logs                           *syncBuffer
	r                              *Reloader
	target                         *engineTarget
}

func newFixture(t *testing.T, targets ...Target) *fixture {
	t.Helper()
	return newFixtureWith(t, testConfig, nil, targets...)
}

// newFixtureWith is newFixture with config cfg and, next to it, files (name: contents).
func newFixtureWith(t *testing.T, cfg string, files map[string]string, targets ...Target) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{dir: dir, file: filepath.Join(dir, "bulwark.yaml"), policies: filepath.Join(dir, "policies"),
		auditFile: filepath.Join(dir, "audit", "events.jsonl"), logs: &syncBuffer{}, target: &engineTarget{}}
	if err := os.Mkdir(f.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	f.writeConfig(t, cfg)
	st, err := Load(f.file, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.target.engine.Store(st.Engine)
	al, err := audit.OpenFile(f.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	f.r, err = New(Options{File: f.file, Targets: append([]Target{f.target}, targets...), Audit: al,
		Log: slog.New(slog.NewJSONHandler(f.logs, nil)), Interval: 50 * time.Millisecond}, st)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) writeConfig(t *testing.T, s string) {
	t.Helper()
	if err := os.WriteFile(f.file, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) writePolicy(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.policies, name), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// events reads the stored audit events strictly (audittest.Read).
func (f *fixture) events(t *testing.T) []audit.Event {
	t.Helper()
	return audittest.Read(t, f.auditFile)
}

// change is the exact event of a reload: kind config_change (path the config file) or
// policy_change (path the policy directory); refused names the reason, else trigger.
func (f *fixture) change(kind, trigger string, refused error) audit.Event {
	e := audit.Event{Kind: kind, Component: "reload", Outcome: audit.Allow, Path: f.file, Reason: "reloaded (" + trigger + ")"}
	if kind == audit.KindPolicyChange {
		e.Path = f.policies
	}
	if refused != nil {
		e.Outcome, e.Reason = audit.Deny, "reload refused, running state kept: "+refused.Error()
	}
	return e
}

func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func within(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPolicyEditIsApplied(t *testing.T) {
	f := newFixture(t)
	f.run(t)
	if !f.target.aliceAllowed() {
		t.Fatal("alice denied before any change")
	}
	f.writePolicy(t, "freeze.cedar", freezeAlice)
	within(t, "the new forbid", func() bool { return !f.target.aliceAllowed() })
	// Run records the event after it commits: wait for it too.
	within(t, "the policy_change event", func() bool { return len(f.events(t)) > 0 })
	// The poll may catch the file half-written and reload twice: the last event is the edit's.
	evs := f.events(t)
	audittest.Equal(t, evs[len(evs)-1:], []audit.Event{f.change(audit.KindPolicyChange, TriggerFileChange, nil)})
	if f.r.Current().Engine != f.target.engine.Load() {
		t.Error("Current is not the committed state")
	}
}

func TestInvalidPolicyKeepsTheRunningState(t *testing.T) {
	f := newFixture(t)
	old := f.r.Current()
	f.writePolicy(t, "freeze.cedar", freezeAlice+"\npermit (principal, action, resource) when { principal.roles.contains( };\n")
	err := f.r.Reload(context.Background(), TriggerFileChange)
	wantLoc := filepath.Join(f.policies, "freeze.cedar") + ":4:"
	if err == nil || !strings.Contains(err.Error(), wantLoc) {
		t.Fatalf("Reload: got %v, want an error at %s", err, wantLoc)
	}
	if f.r.Current() != old || f.target.commits.Load() != 0 || !f.target.aliceAllowed() {
		t.Error("the invalid policy replaced the running state")
	}
	audittest.Equal(t, f.events(t), []audit.Event{f.change(audit.KindPolicyChange, TriggerFileChange, err)}) // err names wantLoc
	if !strings.Contains(f.logs.String(), `"level":"ERROR"`) || !strings.Contains(f.logs.String(), wantLoc) {
		t.Errorf("log: got %s, want an ERROR naming %s", f.logs, wantLoc)
	}
}

func TestRestartKeyIsRefused(t *testing.T) {
	f := newFixture(t)
	f.writeConfig(t, strings.Replace(testConfig, "test.local", "other.local", 1))
	f.writePolicy(t, "freeze.cedar", freezeAlice) // a hot change in the same reload is refused too
	err := f.r.Reload(context.Background(), TriggerFileChange)
	if err == nil || !strings.Contains(err.Error(), f.file+":1: trust_domain: changed") {
		t.Fatalf("Reload: got %v, want trust_domain named at %s:1", err, f.file)
	}
	if f.target.commits.Load() != 0 || !f.target.aliceAllowed() {
		t.Error("a refused reload was committed")
	}
	audittest.Equal(t, f.events(t), []audit.Event{f.change(audit.KindConfigChange, TriggerFileChange, err)})
}

func TestOneFailingTargetCommitsNone(t *testing.T) {
	failing := &engineTarget{fail: errors.New("gateway: no peer address for \"new\"")}
	f := newFixture(t, failing)
	f.writePolicy(t, "freeze.cedar", freezeAlice)
	if err := f.r.Reload(context.Background(), TriggerFileChange); err == nil || !strings.Contains(err.Error(), "no peer address") {
		t.Fatalf("Reload: got %v, want the target's error", err)
	}
	if f.target.commits.Load() != 0 || !f.target.aliceAllowed() {
		t.Error("the first target was committed although the second failed")
	}
}

func TestSIGHUPReloads(t *testing.T) {
	f := newFixture(t)
	f.run(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	within(t, "the SIGHUP reload", func() bool { return f.target.commits.Load() == 1 })
	within(t, "the config_change event", func() bool { return len(f.events(t)) > 0 })
	audittest.Equal(t, f.events(t), []audit.Event{f.change(audit.KindConfigChange, "signal hangup", nil)})
}

// testAPI is the OpenAPI document of the accounts route in apiConfig; accounts are A-nnnn.
const testAPI = `openapi: 3.0.3
info: {title: accounts, version: "1"}
paths:
  /api/accounts/{id}:
    get:
      parameters:
        - name: id
          in: path
          required: true
          schema: {type: string, pattern: "^A-[0-9]{4}$"}
      responses:
        "200": {description: ok}
`

const apiConfig = testConfig + "      openapi: api.yaml\n"

// idPattern is the pattern of the id parameter in the document committed to target.
func idPattern(target *engineTarget) string {
	cfg := target.cfg.Load()
	if cfg == nil {
		return ""
	}
	return cfg.Gateway.Routes[0].API.Paths.Value("/api/accounts/{id}").Get.Parameters[0].Value.Schema.Value.Pattern
}

// writeRenamed saves s to file as editors that save by renaming do.
func writeRenamed(t *testing.T, file, s string) {
	t.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAPIEditIsApplied(t *testing.T) {
	f := newFixtureWith(t, apiConfig, map[string]string{"api.yaml": testAPI})
	old := f.r.Current()
	f.run(t)
	writeRenamed(t, filepath.Join(f.dir, "api.yaml"), strings.Replace(testAPI, "^A-[0-9]{4}$", "^A-[0-9]{5}$", 1))
	within(t, "the edited document", func() bool { return idPattern(f.target) == "^A-[0-9]{5}$" })
	within(t, "the config_change event", func() bool { return len(f.events(t)) > 0 })
	evs := f.events(t)
	audittest.Equal(t, evs[len(evs)-1:], []audit.Event{f.change(audit.KindConfigChange, TriggerFileChange, nil)})
	if cur := f.r.Current(); cur == old || cur.Config != f.target.cfg.Load() {
		t.Error("Current is not the new, committed state")
	}
}

func TestInvalidOpenAPIKeepsTheRunningState(t *testing.T) {
	f := newFixtureWith(t, apiConfig, map[string]string{"api.yaml": testAPI})
	old := f.r.Current()
	f.run(t)
	api := filepath.Join(f.dir, "api.yaml")
	writeRenamed(t, api, strings.Replace(testAPI, "type: string", "type: strnig", 1))
	within(t, "the refusal", func() bool { return len(f.events(t)) > 0 })
	wantLoc := api + ":7: " // the parameter
	evs := f.events(t)
	if len(evs) != 1 || !strings.Contains(evs[0].Reason, wantLoc) {
		t.Fatalf("events: got %+v, want one refusal naming %s", evs, wantLoc)
	}
	audittest.Equal(t, evs, []audit.Event{f.change(audit.KindConfigChange, TriggerFileChange, errors.New(strings.TrimPrefix(evs[0].Reason, "reload refused, running state kept: ")))})
	if f.r.Current() != old || f.target.commits.Load() != 0 {
		t.Error("the invalid document replaced the running state")
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR"`) || !strings.Contains(f.logs.String(), wantLoc) {
		t.Errorf("log: got %s, want an ERROR naming %s", f.logs, wantLoc)
	}
	// A refused document is not retried at every poll.
	time.Sleep(5 * 50 * time.Millisecond)
	if n := len(f.events(t)); n != 1 {
		t.Errorf("events after the refusal: got %d, want 1 (no retry until the files change)", n)
	}
}

// TestDeletedOpenAPIIsReported: a document deleted for good is a refused reload (the
// running state is kept, an ERROR and a deny event name it), once; an editor's brief
// absence while saving by renaming is not; the document restored applies again.
func TestDeletedOpenAPIIsReported(t *testing.T) {
	f := newFixtureWith(t, apiConfig, map[string]string{"api.yaml": testAPI})
	old := f.r.Current()
	api := filepath.Join(f.dir, "api.yaml")
	// Gone for one poll: not reported.
	if err := os.Remove(api); err != nil {
		t.Fatal(err)
	}
	if f.r.changed() {
		t.Fatal("a document missing for one poll was reported")
	}
	writeRenamed(t, api, testAPI)
	if f.r.changed() {
		t.Fatal("the document back as it was is a change")
	}

	f.run(t)
	if err := os.Remove(api); err != nil {
		t.Fatal(err)
	}
	within(t, "the refusal", func() bool { return len(f.events(t)) > 0 })
	evs := f.events(t)
	if len(evs) != 1 || evs[0].Outcome != audit.Deny || !strings.Contains(evs[0].Reason, api) {
		t.Fatalf("events: got %+v, want one refusal naming %s", evs, api)
	}
	if f.r.Current() != old || f.target.commits.Load() != 0 {
		t.Error("the deletion replaced the running state")
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR"`) {
		t.Errorf("log: got %s, want an ERROR", f.logs)
	}
	time.Sleep(5 * 50 * time.Millisecond)
	if n := len(f.events(t)); n != 1 {
		t.Errorf("events while the document stays deleted: got %d, want 1", n)
	}
	writeRenamed(t, api, strings.Replace(testAPI, "^A-[0-9]{4}$", "^A-[0-9]{5}$", 1))
	within(t, "the restored document", func() bool { return idPattern(f.target) == "^A-[0-9]{5}$" })
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
