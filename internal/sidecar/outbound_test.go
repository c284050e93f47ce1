package sidecar

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// appClient is the app's side of the outbound socket: plain HTTP over a unix socket.
func appClient(t *testing.T, sock string) *http.Client {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func withOutbound(t *testing.T, m *mesh, peers map[string]string) nodeOpt {
	ln := listen(t, "unix", filepath.Join(m.dir, "out-"+proxy.NewRequestID()[:6]+".sock"))
	return func(o *Options) { o.Outbound, o.Peers = ln, peers }
}

// TestOutbound: accounts' app calls http://<service>/... on its outbound socket; the call
// reaches the target's app over mTLS carrying accounts' identity and nothing the app forged.
func TestOutbound(t *testing.T) {
	m := newMesh(t)
	ledger := m.start(t, "ledger", m.ca.SVID(t, "ledger"))
	accounts := m.start(t, "accounts", m.ca.SVID(t, "accounts"), withOutbound(t, m, map[string]string{
		"ledger":  ledger.addr,
		"control": ledger.addr, // the CLI passes one map for all roles: not a service, so never a target
		"nosuch":  "127.0.0.1:1",
	}))
	c := appClient(t, accounts.outSock)
	tests := []struct {
		name, method, url string
		host              string // overrides the URL's host in the Host header
		want              int
		wantCode          string // for errors
	}{
		{name: "read a balance", method: "GET", url: "http://ledger/balances/7", want: 200},
		{name: "host with a port", method: "GET", url: "http://ledger:8080/balances/7", want: 200},
		{name: "host in upper case", method: "GET", url: "http://ledger/balances/7", host: "LEDGER", want: 200},
		{name: "denied by the target", method: "POST", url: "http://ledger/entries", want: 403, wantCode: proxy.CodeForbidden},
		{name: "unknown service", method: "GET", url: "http://nosuch/balances/7", want: 404, wantCode: proxy.CodeNotFound},
		{name: "the gateway is not a target", method: "GET", url: "http://gateway/", want: 404, wantCode: proxy.CodeNotFound},
		{name: "the control plane is not a target", method: "GET", url: "http://control/", want: 404, wantCode: proxy.CodeNotFound},
		{name: "a peer entry is not a service", method: "GET", url: "http://nosuch/", want: 404, wantCode: proxy.CodeNotFound},
		{name: "known service without a peer address", method: "POST", url: "http://notifications/events", want: 502, wantCode: proxy.CodeBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits := ledger.app.hits.Load()
			req, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set(proxy.HeaderRequestID, "app-1")
			req.Header.Set(proxy.HeaderUser, "mallory")
			req.Header["X_Bulwark_Caller"] = []string{"spiffe://bank.local/svc/payments"}
			res, err := send(c, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.status != tt.want {
				t.Fatalf("status: got %d, want %d (body %s)", res.status, tt.want, res.body)
			}
			if got, want := res.header.Values(proxy.HeaderRequestID), []string{"app-1"}; !reflect.DeepEqual(got, want) {
				t.Errorf("response X-Request-Id: got %q, want %q", got, want)
			}
			if tt.want != 200 {
				if got := res.errorBody(t); got.Code != tt.wantCode || got.RequestID != "app-1" {
					t.Errorf("error: got %+v, want code %q, request id app-1", got, tt.wantCode)
				}
				if got := ledger.app.hits.Load(); got != hits {
					t.Errorf("ledger app hits: got %d, want %d", got, hits)
				}
				return
			}
			e := res.echo(t)
			want := http.Header{proxy.HeaderCaller: {m.id("accounts").String()}}
			if got := identityHeaders(e.Header); !reflect.DeepEqual(got, want) {
				t.Errorf("identity headers at ledger's app: got %v, want %v", got, want)
			}
			if got, want := e.Header.Get(proxy.HeaderRequestID), "app-1"; got != want {
				t.Errorf("request id at ledger's app: got %q, want %q", got, want)
			}
			if got, want := e.Path, "/balances/7"; got != want {
				t.Errorf("path at ledger's app: got %q, want %q", got, want)
			}
		})
	}
}

// TestOutboundImpostor: a listener for "ledger" that presents another service's SVID fails
// the handshake; the app gets a 502 and nothing reaches the impostor.
func TestOutboundImpostor(t *testing.T) {
	m := newMesh(t)
	impostor := m.start(t, "ledger", m.ca.SVID(t, "payments"))
	accounts := m.start(t, "accounts", m.ca.SVID(t, "accounts"), withOutbound(t, m, map[string]string{"ledger": impostor.addr}))
	res, err := do(t, appClient(t, accounts.outSock), "GET", "http://ledger/balances/7", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.errorBody(t); res.status != http.StatusBadGateway || got.Code != proxy.CodeBadGateway {
		t.Errorf("got %d %+v, want 502 %s", res.status, got, proxy.CodeBadGateway)
	}
	if got := impostor.app.hits.Load(); got != 0 {
		t.Errorf("impostor's app hits: got %d, want 0", got)
	}
	if got := readAudit(t, impostor.auditPath); len(got) != 0 {
		t.Errorf("impostor's audit: got %+v, want nothing", got)
	}
}
