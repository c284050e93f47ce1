package collect

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

var (
	td        = spiffeid.RequireTrustDomainFromString("bank.local")
	gatewayID = spiffeid.RequireFromSegments(td, "svc", "gateway")
	ledgerID  = spiffeid.RequireFromSegments(td, "svc", "ledger")
)

func testReporters() map[spiffeid.ID]string {
	return map[spiffeid.ID]string{gatewayID: "gateway", ledgerID: "sidecar/ledger"}
}

// openLog opens (or reopens) the real tamper-evident log in dir.
func openLog(t testing.TB, dir string) *auditlog.Log {
	t.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := auditlog.Open(auditlog.Options{Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit",
		Keys: openKeys(t, dir, mk), MasterKey: mk, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newCollector(t testing.TB, l *auditlog.Log) *Collector {
	t.Helper()
	c, err := New(Options{Log: l, Reporters: testReporters(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ev(id, component string) []byte {
	return fmt.Appendf(nil, `{"time":"2026-01-02T03:04:05Z","id":%q,"kind":"authz","component":%q,"outcome":"allow"}`, id, component)
}

// logIDs returns the ids and reporters of every record in the log, in order.
func logRecords(t testing.TB, l *auditlog.Log) []string {
	t.Helper()
	var ids []string
	if _, err := l.ScanIDs(func(id string) { ids = append(ids, id) }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// openKeys opens the key manager of the state dir dir, which wraps the log's signing key.
func openKeys(t testing.TB, dir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return km
}
