package sidecar

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

func TestNewRejects(t *testing.T) {
	m := newMesh(t)
	rec, err := audit.OpenFile(filepath.Join(m.dir, "audit", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	valid := func() Options {
		return Options{
			Config: m.cfg, Service: "ledger", SVID: m.ca.SVID(t, "ledger"), Bundle: m.ca.Bundle(),
			Inbound: listen(t, "tcp", "127.0.0.1:0"), Audit: rec, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		}
	}
	tests := []struct {
		name   string
		change func(*Options)
		want   string // a substring of the error
	}{
		{"no config", func(o *Options) { o.Config = nil }, "no config"},
		{"unknown service", func(o *Options) { o.Service = "ledgr" }, `unknown service "ledgr"`},
		{"reserved name", func(o *Options) { o.Service = "gateway" }, `unknown service "gateway"`},
		{"no SVID source", func(o *Options) { o.SVID = nil }, "SVID source"},
		{"no bundle", func(o *Options) { o.Bundle = nil }, "bundle"},
		{"no inbound listener", func(o *Options) { o.Inbound = nil }, "inbound listener"},
		{"TCP outbound listener", func(o *Options) { o.Outbound = listen(t, "tcp", "127.0.0.1:0") }, "must be a unix socket, got tcp"},
		{"peer without a port", func(o *Options) { o.Peers = map[string]string{"accounts": "127.0.0.1"} }, "want host:port"},
		{"no audit", func(o *Options) { o.Audit = nil }, "audit recorder"},
		{"no logger", func(o *Options) { o.Log = nil }, "logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.change(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRecoverer(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := proxy.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), proxy.RequestID(true), proxy.Recover(log, nil))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set(proxy.HeaderRequestID, "r-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	got := response{status: rec.Code, body: rec.Body.Bytes()}
	if got.status != http.StatusInternalServerError {
		t.Fatalf("status: got %d, want 500", got.status)
	}
	if got, want := got.errorBody(t), (proxy.ErrorDetail{Code: proxy.CodeInternal, Message: "internal error", RequestID: "r-1"}); got != want {
		t.Errorf("body: got %+v, want %+v", got, want)
	}
}

// TestRecovererPassesAbort: http.ErrAbortHandler must reach the server, which aborts the
// half-written response instead of ending it as if it were complete.
func TestRecovererPassesAbort(t *testing.T) {
	h := proxy.Recover(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	var got any
	func() {
		defer func() { got = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if err, _ := got.(error); !errors.Is(err, http.ErrAbortHandler) {
		t.Errorf("recovered %v, want http.ErrAbortHandler", got)
	}
}

// TestRunStopsCleanly: a cancelled context is a clean stop that closes the listeners.
func TestRunStopsCleanly(t *testing.T) {
	m := newMesh(t)
	rec, err := audit.OpenFile(filepath.Join(m.dir, "audit", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() })
	in := listen(t, "tcp", "127.0.0.1:0")
	out := listen(t, "unix", filepath.Join(m.dir, "out.sock"))
	s, err := New(Options{
		Config: m.cfg, Service: "accounts", SVID: m.ca.SVID(t, "accounts"), Bundle: m.ca.Bundle(),
		Inbound: in, Outbound: out, Audit: rec, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
	for _, ln := range []interface{ Close() error }{in, out} {
		if err := ln.Close(); err == nil {
			t.Errorf("listener still open after Run returned")
		}
	}
}
