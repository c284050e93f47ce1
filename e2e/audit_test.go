package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// TestAuditLogProvesADenial makes a denied lateral call, then proves its audit event is in
// the signed Merkle tree with the library's RFC 6962 verifier, checks the whole log with
// `bulwark audit verify`, and finds the event with `bulwark audit query`.
func TestAuditLogProvesADenial(t *testing.T) {
	notif, bundle := svidFor(t, "notifications")
	code, body := meshCall(t, meshClient(notif, bundle, "ledger"), "ledger", http.MethodGet, "/balances/A-1001", nil)
	if code != http.StatusForbidden {
		t.Fatalf("notifications → ledger: got %d, want 403", code)
	}
	var e struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	events := auditLines(t, e.Error.RequestID)
	if len(events) != 1 {
		t.Fatalf("audit events for the denial: got %d, want 1", len(events))
	}
	id, _ := events[0]["id"].(string)

	// The event is covered by the next checkpoint (every 5 s by default).
	var p struct {
		Index      uint64   `json:"index"`
		TreeSize   uint64   `json:"tree_size"`
		RootHash   []byte   `json:"root_hash"`
		Hashes     [][]byte `json:"hashes"`
		Checkpoint string   `json:"checkpoint"`
		Record     string   `json:"record"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, errOut, code := bw(t, "audit", "prove", "--state-dir", env.state, "--event", id)
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("prove output is not JSON: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulwark audit prove --event %s: exit %d: %s", id, code, errOut)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Check the proof independently: the checkpoint's signature with the published
	// verifier key, its root, and the audit path with the merkle library.
	pub, err := os.ReadFile(filepath.Join(env.state, "audit", "checkpoint-signer.pub"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(pub)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(p.Checkpoint), note.VerifierList(v))
	if err != nil {
		t.Fatalf("checkpoint signature: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if lines[0] != env.ep.TrustDomain+"/audit" || lines[2] != base64.StdEncoding.EncodeToString(p.RootHash) {
		t.Fatalf("checkpoint %q does not name the proof's root", n.Text)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(p.Record), &rec); err != nil || rec["id"] != id || rec["request_id"] != e.Error.RequestID {
		t.Fatalf("proven record: got %s, want the denial's event", p.Record)
	}
	leaf := rfc6962.DefaultHasher.HashLeaf([]byte(p.Record))
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, p.Index, p.TreeSize, leaf, p.Hashes, p.RootHash); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}

	// The first checkpoint of a fresh log is the empty tree; the latest extends it.
	out, errOut, code := bw(t, "audit", "prove", "--state-dir", env.state, "--from", "0", "--to", jsonNum(p.TreeSize))
	if code != 0 {
		t.Fatalf("prove --from 0 --to %d: exit %d: %s", p.TreeSize, code, errOut)
	}
	var cp struct {
		Hashes [][]byte `json:"hashes"`
	}
	_ = json.Unmarshal([]byte(out), &cp)
	empty := sha256.Sum256(nil)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 0, p.TreeSize, cp.Hashes, empty[:], p.RootHash); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}

	out, errOut, code = bw(t, "audit", "verify", "--state-dir", env.state)
	var rep struct {
		OK bool `json:"ok"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK {
		t.Fatalf("bulwark audit verify on the running log: exit %d, %s %s", code, out, errOut)
	}

	out, errOut, code = bw(t, "audit", "query", "--state-dir", env.state, "--outcome", "deny", "--caller", env.ep.Services["notifications"].SPIFFEID, "--since", "10m")
	if code != 0 {
		t.Fatalf("bulwark audit query: exit %d: %s", code, errOut)
	}
	found := false
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("query line %q is not JSON", l)
		}
		if m["outcome"] != "deny" || m["caller"] != env.ep.Services["notifications"].SPIFFEID {
			t.Errorf("query returned a non-matching event: %s", l)
		}
		found = found || m["id"] == id
	}
	if !found {
		t.Errorf("query did not return the denial %s", id)
	}
}

// TestAuditVerifyNamesTampering copies the running log, changes one byte of its first
// record, and expects `bulwark audit verify` to fail naming record 0.
func TestAuditVerifyNamesTampering(t *testing.T) {
	src := filepath.Join(env.state, "audit")
	dst := filepath.Join(t.TempDir(), "audit")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"events.jsonl", "events.chain", "events.checkpoint", "events.checkpoints", "checkpoint-signer.pub"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "events.jsonl" {
			i := bytes.Index(b, []byte(`"kind":"`)) + len(`"kind":"`)
			b[i] ^= 0x20 // authz → Authz
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := bw(t, "audit", "verify", "--log", filepath.Join(dst, "events.jsonl"))
	if code != 1 || !strings.Contains(errOut, "FAILED at record 0: chain_mismatch") {
		t.Fatalf("verify of a tampered copy: exit %d, stderr %q", code, errOut)
	}
	var rep struct {
		OK      bool `json:"ok"`
		Problem struct {
			Code     string  `json:"code"`
			Position *uint64 `json:"position"`
		} `json:"problem"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.OK || rep.Problem.Code != "chain_mismatch" || rep.Problem.Position == nil || *rep.Problem.Position != 0 {
		t.Fatalf("verify JSON: %s", out)
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }
