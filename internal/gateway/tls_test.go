package gateway

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestTLSPolicy(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	addr := strings.TrimPrefix(h.url, "https://")
	tests := []struct {
		name      string
		min, max  uint16
		suites    []uint16
		wantOK    bool
		wantVer   uint16
		wantProto string
	}{
		{name: "TLS 1.3 preferred, h2 negotiated", min: tls.VersionTLS12, max: tls.VersionTLS13, wantOK: true, wantVer: tls.VersionTLS13, wantProto: "h2"},
		{name: "TLS 1.2 ECDHE-ECDSA AES-GCM accepted", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, wantOK: true, wantVer: tls.VersionTLS12, wantProto: "h2"},
		{name: "TLS 1.2 ECDHE-ECDSA CHACHA20 accepted", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, wantOK: true, wantVer: tls.VersionTLS12, wantProto: "h2"},
		{name: "TLS 1.2 CBC suites refused", min: tls.VersionTLS12, max: tls.VersionTLS12, suites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}},
		{name: "TLS 1.1 refused", min: tls.VersionTLS11, max: tls.VersionTLS11},
		{name: "TLS 1.0 refused", min: tls.VersionTLS10, max: tls.VersionTLS10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := h.edgePool.Clone()
			cfg.MinVersion, cfg.MaxVersion, cfg.CipherSuites = tt.min, tt.max, tt.suites
			cfg.NextProtos = []string{"h2", "http/1.1"}
			conn, err := tls.Dial("tcp", addr, cfg)
			if !tt.wantOK {
				if err == nil {
					conn.Close()
					t.Fatalf("handshake: got success, want refusal")
				}
				// The refusal must come from the server (an alert), not from our client.
				if got := err.Error(); !strings.Contains(got, "remote error") {
					t.Fatalf("handshake error: got %q, want a remote (server) alert", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			defer conn.Close()
			st := conn.ConnectionState()
			if got, want := st.Version, tt.wantVer; got != want {
				t.Errorf("version: got %s, want %s", tls.VersionName(got), tls.VersionName(want))
			}
			if got, want := st.NegotiatedProtocol, tt.wantProto; got != want {
				t.Errorf("ALPN: got %q, want %q", got, want)
			}
		})
	}
}

func TestHTTP2Request(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	resp, _ := h.get("/public/status", nil)
	if got, want := resp.ProtoMajor, 2; got != want {
		t.Errorf("protocol: got HTTP/%d, want HTTP/%d", got, want)
	}
	if got, want := resp.StatusCode, 200; got != want {
		t.Errorf("status: got %d, want %d", got, want)
	}
}
