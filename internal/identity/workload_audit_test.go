package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestWorkloadAPIAuditsEverySVID asserts the exact svid event for an SVID sent to a workload.
func TestWorkloadAPIAuditsEverySVID(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	logPath := filepath.Join(t.TempDir(), "audit", "events.jsonl")
	al, err := audit.OpenFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	api := NewWorkloadAPI(ca, time.Hour, testLogger(t))
	api.SetAudit(al)
	sock := filepath.Join(shortTempDir(t), "ledger", "wl.sock")
	serveWorkload(t, api, sock, svcID("ledger"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svid, err := newSource(t, ctx, sock).GetX509SVID()
	if err != nil {
		t.Fatal(err)
	}
	leaf := svid.Certificates[0]

	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("got %d audit events, want 1: %s", len(lines), b)
	}
	var ev map[string]any
	if err := json.Unmarshal(lines[0], &ev); err != nil {
		t.Fatal(err)
	}
	if id, _ := ev["id"].(string); len(id) != 32 {
		t.Errorf("id: got %q, want 32 hex digits", id)
	}
	if _, err := time.Parse(time.RFC3339Nano, ev["time"].(string)); err != nil {
		t.Errorf("time: %v", err)
	}
	delete(ev, "id")
	delete(ev, "time")
	want := map[string]any{
		"kind": "svid", "component": "control", "outcome": "allow", "reason": "x509-svid issued",
		"resource": svcID("ledger").String(), "serial": leaf.SerialNumber.Text(16),
		"expires": leaf.NotAfter.UTC().Format(time.RFC3339Nano),
	}
	if got, wk := slices.Sorted(maps.Keys(ev)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, wk) {
		t.Errorf("fields: got %q, want %q", got, wk)
	}
	for k, w := range want {
		if ev[k] != w {
			t.Errorf("%s: got %v, want %v", k, ev[k], w)
		}
	}
	if bytes.Contains(b, []byte("PRIVATE")) || bytes.Contains(b, []byte("BEGIN")) {
		t.Error("the audit event holds PEM material")
	}
}

// TestWorkloadAPIWithholdsAnUnauditedSVID: when the issuance cannot be recorded, no SVID is sent.
func TestWorkloadAPIWithholdsAnUnauditedSVID(t *testing.T) {
	ca, _, _ := newTestCA(t, nil)
	al, err := audit.OpenFile(filepath.Join(t.TempDir(), "audit", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	al.Close() // every Record now fails
	api := NewWorkloadAPI(ca, time.Hour, testLogger(t))
	api.SetAudit(al)
	sock := filepath.Join(shortTempDir(t), "ledger", "wl.sock")
	serveWorkload(t, api, sock, svcID("ledger"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if src, err := NewX509Source(ctx, sock); err == nil {
		src.Close()
		t.Fatal("NewX509Source got an SVID whose issuance was not audited")
	}
}
