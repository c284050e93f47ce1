package secrets

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

// apiEnv is the secrets API served by a real control.Server over mTLS on 127.0.0.1, with
// the embedded backend, a real audit file and a logger whose output the test reads.
type apiEnv struct {
	ca        *testpki.CA
	addr      string
	backend   *Embedded
	hasher    *Hasher
	auditPath string
	logs      *bytes.Buffer
	audit     *audit.FileLog
	api       *API
}

// newAPIEnv grants payments read on payments/* (as services[1].secrets[0]) and ops read,
// write and list on ops/** (services[2].secrets[0]); ledger is admitted but has no grant.
func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	ca := testpki.New(t, "bank.local")
	id := func(n string) spiffeid.ID { return spiffeid.RequireFromSegments(ca.TD, "svc", n) }
	grants := []Grant{
		grant(t, id("payments"), "payments/*", "services[1].secrets[0]", Read),
		grant(t, id("ops"), "ops/**", "services[2].secrets[0]", Read, Write, List),
	}
	e := &apiEnv{ca: ca, backend: newTestEmbedded(t), logs: &bytes.Buffer{}, auditPath: filepath.Join(t.TempDir(), "audit.jsonl")}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.hasher, _ = NewHasher(key)
	var err error
	if e.audit, err = audit.OpenFile(e.auditPath); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.audit.Close() })
	log := slog.New(slog.NewJSONHandler(e.logs, nil))
	api := control.NewAPI()
	e.api = &API{Backend: e.backend, Grants: NewGrants(grants), Hasher: e.hasher, Audit: e.audit, Log: log}
	api.Handle(Prefix, e.api)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	srv := &control.Server{
		Listener: ln, SVID: ca.SVID(t, "control"), Bundle: ca.Bundle(),
		Callers:   []spiffeid.ID{e.id("gateway")},
		Workloads: []spiffeid.ID{e.id("payments"), e.id("ledger"), e.id("ops")},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"gateway_only":true}`))
		}),
		API: api, Log: log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *apiEnv) id(name string) spiffeid.ID {
	return spiffeid.RequireFromSegments(e.ca.TD, "svc", name)
}

func grant(t *testing.T, id spiffeid.ID, pattern, rule string, access ...Access) Grant {
	p, err := ParsePattern(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return Grant{ID: id, Pattern: p, Access: access, Rule: rule}
}

// do calls the API as service name over mTLS and returns the status and decoded body.
func (e *apiEnv) do(t *testing.T, name, method, path, body string) (int, map[string]any) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: identity.ClientTLS(e.ca.SVID(t, name), e.ca.Bundle(), e.id("control"))}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+e.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, path, name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, out
}

func (e *apiEnv) events(t *testing.T) []audit.Event {
	t.Helper()
	f, err := os.Open(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	if id, _ := e["request_id"].(string); id == "" {
		return c + " (no request id)"
	}
	return c
}

func TestAPIGrantedReadAndDeniedRead(t *testing.T) {
	const path, value = "payments/webhook-signing-key", "clear-value-that-must-not-leak"
	e := newAPIEnv(t)
	if _, err := e.backend.Put(context.Background(), path, map[string]string{"key": value}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	status, body := e.do(t, "payments", "GET", Prefix+path, "")
	if status != http.StatusOK {
		t.Fatalf("granted read: got %d %v, want 200", status, body)
	}
	data, _ := body["data"].(map[string]any)
	if data["key"] != value {
		t.Fatalf("granted read: got %v", body)
	}
	status, body = e.do(t, "ledger", "GET", Prefix+path, "")
	if status != http.StatusForbidden || errCode(body) != "forbidden" {
		t.Fatalf("ungranted read: got %d %v, want 403 forbidden with a request id", status, body)
	}

	evs := e.events(t)
	if len(evs) != 2 {
		t.Fatalf("audit: got %d events, want 2: %+v", len(evs), evs)
	}
	hash := e.hasher.Hash(path)
	want := []audit.Event{
		{Kind: audit.KindSecret, Component: "control", Outcome: audit.Allow, Reason: "read", Rule: "services[1].secrets[0]", Caller: e.id("payments").String(), Method: "GET", PathHMAC: hash},
		{Kind: audit.KindSecret, Component: "control", Outcome: audit.Deny, Reason: "no grant for read", Caller: e.id("ledger").String(), Method: "GET", PathHMAC: hash},
	}
	for i, ev := range evs {
		if ev.RequestID == "" || ev.Source != "127.0.0.1" || ev.ID == "" || ev.Time.IsZero() {
			t.Errorf("event %d: missing request id, source, id or time: %+v", i, ev)
		}
		ev.RequestID, ev.Source, ev.ID, ev.Time = "", "", "", want[i].Time
		if got, _ := json.Marshal(ev); string(got) != string(must(json.Marshal(want[i]))) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, must(json.Marshal(want[i])))
		}
	}
	raw, _ := os.ReadFile(e.auditPath)
	for _, clear := range []string{path, value, "webhook-signing-key"} {
		if bytes.Contains(raw, []byte(clear)) || bytes.Contains(e.logs.Bytes(), []byte(clear)) {
			t.Errorf("%q appears in the audit log or the logs", clear)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestAPIWriteListDeleteAsOps(t *testing.T) {
	e := newAPIEnv(t)
	p := Prefix + "ops/db/password"
	steps := []struct {
		name, method, path, body string
		wantStatus               int
		wantCode                 string
	}{
		{"first write, cas 0", "PUT", p, `{"data":{"password":"one"},"cas":0}`, 200, ""},
		{"cas 0 again", "PUT", p, `{"data":{"password":"x"},"cas":0}`, 409, CodeCASMismatch},
		{"second write, cas 1", "PUT", p, `{"data":{"password":"two"},"cas":1}`, 200, ""},
		{"unknown field", "PUT", p, `{"data":{"password":"x"},"cass":2}`, 400, "bad_request"},
		{"non-string value", "PUT", p, `{"data":{"password":1}}`, 400, "bad_request"},
		{"no data", "PUT", p, `{}`, 400, "bad_request"},
		{"trailing data", "PUT", p, `{"data":{}} {}`, 400, "bad_request"},
		{"read current", "GET", p, "", 200, ""},
		{"read version 1", "GET", p + "?version=1", "", 200, ""},
		{"bad version", "GET", p + "?version=zero", "", 400, "bad_request"},
		{"missing version", "GET", p + "?version=9", "", 404, "not_found"},
		{"metadata", "GET", p + "?metadata=true", "", 200, ""},
		{"set custom metadata", "PUT", p + "?metadata=true", `{"custom_metadata":{"owner":"ops"}}`, 204, ""},
		{"list folder", "GET", Prefix + "ops/db?list=true", "", 200, ""},
		{"list outside grant", "GET", Prefix + "payments?list=true", "", 403, "forbidden"},
		{"list with PUT", "PUT", Prefix + "ops/db?list=true", `{}`, 405, "method_not_allowed"},
		{"trailing slash", "GET", Prefix + "ops/db/", "", 400, "bad_request"},
		{"delete current", "DELETE", p, "", 204, ""},
		{"read deleted", "GET", p, "", 404, "not_found"},
		{"undelete", "POST", p + "?action=undelete", `{"versions":[2]}`, 204, ""},
		{"destroy v1", "POST", p + "?action=destroy", `{"versions":[1]}`, 204, ""},
		{"read destroyed", "GET", p + "?version=1", "", 404, "not_found"},
		{"bad action", "POST", p + "?action=explode", `{}`, 400, "bad_request"},
		{"bad versions", "DELETE", p + "?versions=1,x", "", 400, "bad_request"},
		{"method", "PATCH", p, `{}`, 405, "method_not_allowed"},
		{"encoded slash", "GET", Prefix + "ops%2Fdb%2Fpassword", "", 400, "bad_request"},
		{"dot segment", "GET", Prefix + "ops/db/../db/password", "", 400, "bad_request"},
		{"bad segment", "GET", Prefix + "ops/db/pass%20word", "", 400, "bad_request"},
		{"unknown api", "GET", "/v1/nothing/here", "", 404, "not_found"},
	}
	for _, s := range steps {
		status, body := e.do(t, "ops", s.method, s.path, s.body)
		if status != s.wantStatus || (s.wantCode != "" && errCode(body) != s.wantCode) {
			t.Fatalf("%s: got %d %v, want %d %s", s.name, status, body, s.wantStatus, s.wantCode)
		}
		switch s.name {
		case "read current":
			if d, _ := body["data"].(map[string]any); d["password"] != "two" {
				t.Fatalf("read current: got %v", body)
			}
		case "list folder":
			if keys, _ := body["keys"].([]any); len(keys) != 1 || keys[0] != "password" {
				t.Fatalf("list: got %v", body)
			}
		case "metadata":
			if body["current_version"] != float64(2) {
				t.Fatalf("metadata: got %v", body)
			}
		}
	}
	s, err := e.backend.Get(context.Background(), "ops/db/password", 0)
	if err != nil || s.Data["password"] != "two" || s.CustomMetadata["owner"] != "ops" {
		t.Fatalf("store after the steps: got %+v, %v (a refused request must change nothing)", s, err)
	}
}

func TestAPIDeniesEveryAccessNotGranted(t *testing.T) {
	e := newAPIEnv(t)
	for _, tt := range []struct{ who, method, path, body string }{
		{"payments", "PUT", Prefix + "payments/k", `{"data":{"k":"v"}}`},
		{"payments", "DELETE", Prefix + "payments/k", ""},
		{"payments", "POST", Prefix + "payments/k?action=destroy", `{"versions":[1]}`},
		{"payments", "GET", Prefix + "payments?list=true", ""},
		{"payments", "GET", Prefix + "payments/a/b", ""},
		{"payments", "GET", Prefix + "ops/k", ""},
		{"payments", "GET", Prefix + "accounts?list=true", ""},
		{"ledger", "GET", Prefix + "payments/k", ""},
		{"ledger", "PUT", Prefix + "ledger/k", `{"data":{"k":"v"}}`},
	} {
		status, body := e.do(t, tt.who, tt.method, tt.path, tt.body)
		if status != http.StatusForbidden || errCode(body) != "forbidden" {
			t.Errorf("%s %s %s: got %d %v, want 403", tt.who, tt.method, tt.path, status, body)
		}
	}
	for _, ev := range e.events(t) {
		if ev.Outcome != audit.Deny || ev.Kind != audit.KindSecret || !strings.HasPrefix(ev.PathHMAC, "hmac-sha256:") {
			t.Errorf("event: got %+v, want a secret deny with a path HMAC", ev)
		}
	}
	if n := len(e.events(t)); n != 9 {
		t.Errorf("audit: got %d events, want 9", n)
	}
	if _, err := e.backend.Metadata(context.Background(), "payments/k"); err != ErrNotFound {
		t.Errorf("a denied write must change nothing: metadata %v", err)
	}
}

func TestAPIFailsClosedWithoutAudit(t *testing.T) {
	e := newAPIEnv(t)
	if _, err := e.backend.Put(context.Background(), "payments/k", map[string]string{"k": "v"}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.audit.Close() // the real audit log, now failing every Record
	status, body := e.do(t, "payments", "GET", Prefix+"payments/k", "")
	if status != http.StatusServiceUnavailable || errCode(body) != "unavailable" {
		t.Fatalf("read with a broken audit log: got %d %v, want 503", status, body)
	}
	if _, ok := body["data"]; ok {
		t.Fatal("a read that cannot be audited must not return the secret")
	}
}

func TestControlKeepsGatewayRoutesFromWorkloads(t *testing.T) {
	e := newAPIEnv(t)
	if status, body := e.do(t, "payments", "GET", "/oidc/token", ""); status != http.StatusForbidden || errCode(body) != "forbidden" {
		t.Fatalf("workload to a gateway-only path: got %d %v, want 403", status, body)
	}
	if status, _ := e.do(t, "payments", "GET", "/v1/../oidc/token", ""); status != http.StatusForbidden && status != http.StatusBadRequest {
		t.Fatalf("dot-dot to a gateway-only path: got %d, want 400 or 403", status)
	}
	if status, body := e.do(t, "gateway", "GET", "/oidc/token", ""); status != http.StatusOK || body["gateway_only"] != true {
		t.Fatalf("gateway to its handler: got %d %v", status, body)
	}
	tr := &http.Transport{TLSClientConfig: identity.ClientTLS(e.ca.SVID(t, "stranger"), e.ca.Bundle(), e.id("control"))}
	defer tr.CloseIdleConnections()
	if _, err := (&http.Client{Transport: tr}).Get("https://" + e.addr + Prefix + "payments/k"); err == nil {
		t.Fatal("a workload that is neither a caller nor a configured service completed the handshake")
	}
}

func TestAPISetPolicyRevokesAtOnce(t *testing.T) {
	e := newAPIEnv(t)
	if _, err := e.backend.Put(context.Background(), "payments/k", map[string]string{"k": "v"}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if status, body := e.do(t, "payments", "GET", Prefix+"payments/k", ""); status != http.StatusOK {
		t.Fatalf("before: got %d %v", status, body)
	}
	e.api.SetPolicy(NewGrants(nil), false)
	if status, body := e.do(t, "payments", "GET", Prefix+"payments/k", ""); status != http.StatusForbidden {
		t.Fatalf("after revoking every grant: got %d %v, want 403", status, body)
	}
	e.audit.Close()
	e.api.SetPolicy(NewGrants([]Grant{grant(t, e.id("payments"), "payments/*", "r", Read)}), true)
	if status, body := e.do(t, "payments", "GET", Prefix+"payments/k", ""); status != http.StatusOK {
		t.Fatalf("granted again, fail-open, audit broken: got %d %v, want 200", status, body)
	}
}
