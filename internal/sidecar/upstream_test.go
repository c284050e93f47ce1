package sidecar

import (
	"io"
	"log/slog"
	"testing"

	"github.com/bulwark-security/bulwark/internal/proxy"
)

// TestAppProxyPoolsCopyBuffers: the proxy to the app copies responses through the data
// plane's shared buffers (proxy.CopyBuffers), not a fresh 32 KiB buffer per response.
func TestAppProxyPoolsCopyBuffers(t *testing.T) {
	m := newMesh(t)
	svc, _ := m.cfg.Service("accounts")
	rp, err := newAppProxy(m.cfg, svc, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rp.BufferPool != proxy.CopyBuffers {
		t.Error("the app proxy's BufferPool is not proxy.CopyBuffers")
	}
}
