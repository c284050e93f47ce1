package dbcreds

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/testpki"
	"github.com/bulwark-security/bulwark/internal/tokenize"
)

// TestAPIOwnDatabaseOnly runs the API on the real control-plane server over mTLS: a service
// gets credentials for its own database, and asking for another's is 403 and audited.
func TestAPIOwnDatabaseOnly(t *testing.T) {
	e, rec, _ := openEngine(t, time.Minute, "accounts", "payments")
	ca := testpki.New(t, "bank.local")
	peer := tokenize.PeerCaller(ca.TD)
	api := control.NewAPI()
	api.Handle(Prefix, Handler(e, func(r *http.Request) (string, string, error) {
		c, err := peer(r)
		return c.Service, c.SPIFFEID, err
	}, discardLog()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctrl := ca.SVID(t, "control")
	var workloads []spiffeid.ID
	for _, n := range []string{"accounts", "payments", "notifications"} {
		workloads = append(workloads, spiffeid.RequireFromSegments(ca.TD, "svc", n))
	}
	srv := &control.Server{Listener: ln, SVID: ctrl, Bundle: ca.Bundle(), Log: discardLog(),
		Callers: []spiffeid.ID{spiffeid.RequireFromSegments(ca.TD, "svc", "gateway")}, Handler: http.NotFoundHandler(),
		Workloads: workloads, API: api}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	post := func(name, body string) (int, map[string]any) {
		t.Helper()
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: identity.ClientTLS(ca.SVID(t, name), ca.Bundle(), ctrl.ID)}}
		resp, err := c.Post("https://"+ln.Addr().String()+CredsPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: not JSON: %q", name, b)
		}
		return resp.StatusCode, m
	}

	for _, tt := range []struct {
		name, caller, body string
		status             int
		code               string
	}{
		{"own, empty body", "payments", "", http.StatusCreated, ""},
		{"own, named", "accounts", `{"service":"accounts"}`, http.StatusCreated, ""},
		{"another service's", "payments", `{"service":"accounts"}`, http.StatusForbidden, "forbidden"},
		{"unknown field", "payments", `{"service":"payments","ttl":"100h"}`, http.StatusBadRequest, "bad_request"},
		{"not postgres", "notifications", ``, http.StatusNotFound, CodeNoDatabase},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.all())
			status, m := post(tt.caller, tt.body)
			if status != tt.status {
				t.Fatalf("status: got %d (%v), want %d", status, m, tt.status)
			}
			if tt.code != "" {
				errObj, _ := m["error"].(map[string]any)
				if errObj["code"] != tt.code || errObj["request_id"] == nil {
					t.Errorf("error: got %v, want code %q with a request id", m, tt.code)
				}
				if _, leaked := m["password"]; leaked {
					t.Error("refusal carries a password")
				}
			}
			evs := rec.all()[before:]
			switch tt.status {
			case http.StatusCreated:
				if m["database"] != e.DatabaseName(tt.caller) || m["password"] == "" || !strings.Contains(m["dsn"].(string), "/"+e.DatabaseName(tt.caller)) {
					t.Errorf("answer: got database %v", m["database"])
				}
				if len(evs) != 1 || evs[0].Outcome != audit.Allow || evs[0].Caller != "spiffe://bank.local/svc/"+tt.caller {
					t.Errorf("audit: got %+v, want one allow", evs)
				}
			case http.StatusForbidden:
				want := audit.Event{Kind: audit.KindDBCredentials, Component: "control", Outcome: audit.Deny,
					Caller: "spiffe://bank.local/svc/payments", Reason: "payments asked for another service's postgres credential"}
				if len(evs) != 1 || evs[0].Kind != want.Kind || evs[0].Outcome != want.Outcome || evs[0].Caller != want.Caller ||
					evs[0].Reason != want.Reason || evs[0].Component != want.Component || evs[0].RequestID == "" {
					t.Errorf("audit: got %+v, want %+v with a request id", evs, want)
				}
			}
		})
	}
}
