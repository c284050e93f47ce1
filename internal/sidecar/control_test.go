package sidecar

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/control"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// startControl runs a real control.Server whose only workload API, /v1/echo/, answers with
// the caller's SPIFFE ID (from its client certificate) and the headers it received.
func startControl(t *testing.T, m *mesh) string {
	t.Helper()
	api := control.NewAPI()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := control.PeerID(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"caller": id.String(), "path": r.URL.Path, "header": r.Header})
	})
	api.Handle("/v1/echo/", echo)
	api.Handle(collect.Prefix, echo) // the collector's: the sidecar must not forward to it
	ln := listen(t, "tcp", "127.0.0.1:0")
	srv := &control.Server{
		Listener: ln, SVID: m.ca.SVID(t, "control"), Bundle: m.ca.Bundle(),
		Callers: []spiffeid.ID{m.id("gateway")}, Workloads: []spiffeid.ID{m.id("accounts")},
		Handler: http.NotFoundHandler(), API: api, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestOutboundToControlPlane: the app calls http://bulwark/v1/… on its outbound socket with
// no credential; the control plane sees the sidecar's SVID, and nothing the app forged.
func TestOutboundToControlPlane(t *testing.T) {
	m := newMesh(t)
	ctl := startControl(t, m)
	accounts := m.start(t, "accounts", m.ca.SVID(t, "accounts"), withOutbound(t, m, map[string]string{"control": ctl}))
	c := appClient(t, accounts.outSock)

	req, _ := http.NewRequest("GET", "http://bulwark/v1/echo/x", nil)
	req.Header.Set(proxy.HeaderCaller, "spiffe://bank.local/svc/payments")
	res, err := send(c, req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Caller string      `json:"caller"`
		Path   string      `json:"path"`
		Header http.Header `json:"header"`
	}
	if res.status != http.StatusOK || json.Unmarshal(res.body, &got) != nil {
		t.Fatalf("GET http://bulwark/v1/echo/x: got %d %s", res.status, res.body)
	}
	if got.Caller != m.id("accounts").String() || got.Path != "/v1/echo/x" {
		t.Errorf("control plane saw caller %q path %q, want accounts' SVID and /v1/echo/x", got.Caller, got.Path)
	}
	if v := got.Header.Get(proxy.HeaderCaller); v != "" {
		t.Errorf("the app's forged %s reached the control plane: %q", proxy.HeaderCaller, v)
	}

	for _, tt := range []struct {
		name, url string
		want      int
		code      string
	}{
		{"not a workload API", "http://bulwark/oidc/token", 404, proxy.CodeNotFound},
		{"dot segments out of /v1/", "http://bulwark/v1/../oidc/token", 400, proxy.CodeBadRequest},
		{"encoded slash", "http://bulwark/v1/echo%2F..%2Fx", 400, proxy.CodeBadRequest},
		{"unknown API", "http://bulwark/v1/nothing", 404, proxy.CodeNotFound},
		// The collector takes the sidecar's SVID as the reporter of the sidecar's own
		// decisions: an app must not deliver events in its name.
		{"audit delivery", "http://bulwark/v1/audit/events", 403, proxy.CodeForbidden},
		{"audit delivery, other case", "http://bulwark/v1/AUDIT/events", 404, proxy.CodeNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tt.url, nil)
			res, err := send(c, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.want || res.errorBody(t).Code != tt.code {
				t.Fatalf("got %d %s, want %d %s", res.status, res.body, tt.want, tt.code)
			}
		})
	}
}

func TestOutboundWithoutControlPlane(t *testing.T) {
	m := newMesh(t)
	accounts := m.start(t, "accounts", m.ca.SVID(t, "accounts"), withOutbound(t, m, map[string]string{}))
	res, err := do(t, appClient(t, accounts.outSock), "GET", "http://bulwark/v1/secrets/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusBadGateway || res.errorBody(t).Code != proxy.CodeBadGateway {
		t.Fatalf("got %d %s, want 502", res.status, res.body)
	}
}
