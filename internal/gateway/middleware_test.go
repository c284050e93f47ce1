package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/authn"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/proxy"
	"github.com/bulwark-security/bulwark/internal/testpki"
)

func TestRecoverPanics(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantAbort  bool
	}{
		{name: "panic before the response", handler: func(http.ResponseWriter, *http.Request) { panic("boom") }, wantStatus: 500},
		{name: "panic mid-response aborts", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("partial"))
			panic("boom")
		}, wantAbort: true},
		{name: "abort passes through", handler: func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }, wantAbort: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			g := &Gateway{log: slog.New(slog.NewJSONHandler(&logs, nil))}
			h := proxy.Chain(tt.handler, proxy.RequestID(false), proxy.Recover(g.log, g.decorate500), g.accessLog, g.securityHeaders)
			rec := httptest.NewRecorder()
			var aborted any
			func() {
				defer func() { aborted = recover() }()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			}()
			if tt.wantAbort {
				if aborted != http.ErrAbortHandler {
					t.Fatalf("panic: got %v, want http.ErrAbortHandler", aborted)
				}
				return
			}
			if aborted != nil {
				t.Fatalf("panic escaped: %v", aborted)
			}
			if got, want := rec.Code, tt.wantStatus; got != want {
				t.Errorf("status: got %d, want %d", got, want)
			}
			if code, _ := errorBody(t, rec.Body.Bytes()); code != "internal" {
				t.Errorf("error code: got %q, want %q", code, "internal")
			}
			if got, want := rec.Header().Get("Strict-Transport-Security"), "max-age=63072000; includeSubDomains"; got != want {
				t.Errorf("HSTS: got %q, want %q", got, want)
			}
			if !strings.Contains(logs.String(), `"msg":"handler panic"`) || !strings.Contains(logs.String(), `"status":500`) {
				t.Errorf("log: want a panic line and a 500 access line, got %s", logs.String())
			}
		})
	}
}

func TestNewRefusesIncompleteWiring(t *testing.T) {
	cfg, err := config.Parse("test.yaml", []byte(strings.Replace(testConfig, "FAILOPEN", "false", 1)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ca := testpki.New(t, "bank.local")
	verifier, err := authn.NewVerifier(authn.Options{Issuer: "https://issuer.invalid", Audience: "bank-api", HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	al, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	full := func() Options {
		return Options{
			Config: cfg, Listener: ln, Certificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errors.New("unused") },
			SVID: ca.SVID(t, "gateway"), Bundle: ca.Bundle(), Verifier: verifier, Audit: al, Log: slog.New(slog.DiscardHandler),
			Peers: map[string]string{"accounts": "127.0.0.1:1", "payments": "127.0.0.1:2", "ledger": "127.0.0.1:3", "control": "127.0.0.1:4"},
		}
	}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{name: "complete", mod: func(*Options) {}},
		{name: "no verifier", mod: func(o *Options) { o.Verifier = nil }, wantErr: "Options.Verifier is required"},
		{name: "no audit", mod: func(o *Options) { o.Audit = nil }, wantErr: "Options.Audit is required"},
		{name: "no peer for a routed service", mod: func(o *Options) { delete(o.Peers, "payments") }, wantErr: `no peer address for "payments"`},
		{name: "no control peer with the embedded provider", mod: func(o *Options) { delete(o.Peers, "control") }, wantErr: `no peer address for "control"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := full()
			tt.mod(&o)
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: got %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
