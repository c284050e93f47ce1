package gateway

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/proxy"
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
	h := newHarness(t, harnessOpts{noGateway: true})
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
			o := h.options() // a fresh listener and Peers map for each case
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
