package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/identity"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// legacyKey is a key file that binaries before the key manager sealed with the master key,
// and the wrapped file that replaces it.
type legacyKey struct {
	wrapped, service, purpose, ad string // the key manager's file and binding
	legacy, legacyPurpose         string // the master-key-sealed file of earlier versions
}

var edgeAndAuditKeys = []legacyKey{
	{"edge/ca-key.wrapped", identity.EdgeKeyService, identity.KeyPurposeEdgeCA, "edge/ca-key.wrapped", "edge/ca.key", "edge/ca.key"},
	{"edge/server-key.wrapped", identity.EdgeKeyService, identity.KeyPurposeEdgeServer, "edge/server-key.wrapped", "edge/server.key", "edge/server.key"},
	{"audit/checkpoint-signer-key.wrapped", auditlog.KeyService, auditlog.KeyPurposeCheckpoint, "audit/checkpoint-signer-key.wrapped",
		"audit/checkpoint-signer.key", "audit/checkpoint-signer.key"},
}

// TestStateDirLegacyEdgeAndAuditKeys: a state dir whose edge keys and audit checkpoint key
// were sealed directly with the master key, as binaries before the key manager left it,
// starts with the real `up`: the keys are migrated to wrapped files, the old files removed,
// and the edge CA, server certificate and checkpoint verifier key kept. Then `bulwark keys
// rotate` and `rewrap` (with `up` running) and a restart: everything still opens, the audit
// log verifies, and each key the first start made is in it once.
func TestStateDirLegacyEdgeAndAuditKeys(t *testing.T) {
	dir, err := os.MkdirTemp("", "bwkeys") // short: unix socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg, state := filepath.Join(dir, "bulwark.yaml"), filepath.Join(dir, "state")
	if err := writeTestConfig(cfg, env.echo.URL); err != nil {
		t.Fatal(err)
	}
	start := func(what string) *upProc {
		t.Helper()
		p, err := startUp(cfg, state)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		checkEdge(t, state)
		return p
	}
	stop := func(p *upProc) {
		t.Helper()
		if err := p.Stop(); err != nil {
			t.Fatalf("stop: %v\n%s", err, tail(p.Stderr()))
		}
	}
	stop(start("first start"))
	kept := map[string]string{}
	for _, f := range []string{"edge/ca.pem", "edge/server.pem", "audit/checkpoint-signer.pub"} {
		kept[f] = readFile(t, filepath.Join(state, f))
	}
	sealLegacy(t, state)

	p := start("start on legacy keys")
	for _, k := range edgeAndAuditKeys {
		if exists(filepath.Join(state, k.legacy)) {
			t.Errorf("legacy %s still there after the start", k.legacy)
		}
		if !exists(filepath.Join(state, k.wrapped)) {
			t.Errorf("no %s after the start", k.wrapped)
		}
	}
	checkKept := func(when string) {
		t.Helper()
		for f, want := range kept {
			if readFile(t, filepath.Join(state, f)) != want {
				t.Errorf("%s: %s changed, want it kept", when, f)
			}
		}
	}
	checkKept("after the migration")

	out, errOut, code := bw(t, "keys", "rotate", "--state-dir", state)
	if code != 0 {
		t.Fatalf("bulwark keys rotate: exit %d: %s", code, errOut)
	}
	for _, k := range edgeAndAuditKeys {
		if want := "data/" + k.service + "/" + k.purpose + ": version 2 is primary"; !strings.Contains(out, want) {
			t.Errorf("keys rotate output lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := bw(t, "keys", "rewrap", "--state-dir", state); code != 0 {
		t.Fatalf("bulwark keys rewrap: exit %d: %s", code, errOut)
	}
	stop(p)
	stop(start("restart after rotate and rewrap"))
	checkKept("after rotate, rewrap and restart")

	if out, errOut, code := bw(t, "audit", "verify", "--state-dir", state); code != 0 {
		t.Fatalf("bulwark audit verify: exit %d: %s %s", code, out, errOut)
	}
	created := map[string]int{}
	for _, line := range strings.Split(readFile(t, filepath.Join(state, "audit", "events.jsonl")), "\n") {
		var e struct{ Kind, Component, Resource, Reason string }
		if line == "" || json.Unmarshal([]byte(line), &e) != nil || e.Kind != "key_rotation" || e.Component != "control" {
			continue
		}
		if strings.HasPrefix(e.Reason, "create:") {
			created[e.Resource]++
		}
	}
	for _, key := range []string{"kek", "data/control/audit-checkpoint", "data/control/ca-root", "data/gateway/edge-ca", "data/gateway/edge-server"} {
		if created[key] != 1 {
			t.Errorf("%s: %d create events of the control plane in the audit log, want 1 (all: %v)", key, created[key], created)
		}
	}
}

// sealLegacy rewrites state's edge and audit keys in the format of earlier versions: each
// sealed with the master key, no wrapped file. The key manager's dir stays (it wraps the
// other keys).
func sealLegacy(t *testing.T, state string) {
	t.Helper()
	ctx := context.Background()
	mk, err := keys.LoadMasterKey(filepath.Join(state, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	km, err := envelope.Open(ctx, filepath.Join(state, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range edgeAndAuditKeys {
		ct, err := os.ReadFile(filepath.Join(state, k.wrapped))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := km.Decrypt(ctx, k.service, k.purpose, ct, []byte(k.ad))
		if err != nil {
			t.Fatalf("%s: %v", k.wrapped, err)
		}
		if err := mk.WriteSealedFile(filepath.Join(state, k.legacy), pt, k.legacyPurpose); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(state, k.wrapped)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkEdge makes a TLS connection to state's running gateway, verifying it with state's
// edge/ca.pem: the edge key opened and matches its certificate.
func checkEdge(t *testing.T, state string) {
	t.Helper()
	var ep endpoints
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(state, "endpoints.json"))), &ep); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, filepath.Join(state, "edge", "ca.pem")))) {
		t.Fatal("edge/ca.pem holds no certificate")
	}
	c, err := tls.Dial("tcp", strings.TrimPrefix(ep.Gateway, "https://"), &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the gateway with edge/ca.pem: %v", err)
	}
	c.Close()
}
