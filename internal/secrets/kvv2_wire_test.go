package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestKVv2Wire checks, in raw HTTP, the documented behaviour the Vault backend relies on:
// status codes, the {"errors": [...]} shape and the response envelope. It runs against the
// contract server, and against a real Vault/OpenBao when VAULT_ADDR and VAULT_TOKEN are
// set, which is how the contract server itself is kept honest.
func TestKVv2Wire(t *testing.T) {
	t.Run("contract", func(t *testing.T) {
		srv, kv := newKVServer(t)
		runWire(t, srv.URL, kv.mount, kv.token)
	})
	t.Run("real", func(t *testing.T) {
		addr, tok := realVault(t)
		mount := os.Getenv("VAULT_KV_MOUNT")
		if mount == "" {
			mount = "secret"
		}
		runWire(t, strings.TrimSuffix(addr, "/"), mount, tok)
	})
}

func runWire(t *testing.T, base, mount, token string) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := "bulwark-wire-" + hex.EncodeToString(b[:]) + "/k"
	do := func(method, path, tok, body string) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+"/v1/"+mount+"/"+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("X-Vault-Token", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &out); err != nil {
				t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
			}
		}
		return resp.StatusCode, out
	}
	errs := func(body map[string]any) []any {
		e, ok := body["errors"].([]any)
		if !ok {
			t.Fatalf("error body without an errors list: %v", body)
		}
		return e
	}
	t.Cleanup(func() { do("DELETE", "metadata/"+key, token, "") })

	if st, body := do("GET", "data/"+key, "", ""); st != http.StatusForbidden || !strings.Contains(asString(errs(body)), "permission denied") {
		t.Fatalf("no token: got %d %v, want 403 permission denied", st, body)
	}
	if st, body := do("GET", "data/"+key, token, ""); st != http.StatusNotFound || len(errs(body)) != 0 {
		t.Fatalf("missing: got %d %v, want 404 with an empty errors list", st, body)
	}
	st, body := do("POST", "data/"+key, token, `{"options":{"cas":0},"data":{"k":"v1"}}`)
	if d, _ := body["data"].(map[string]any); st != http.StatusOK || d["version"] != float64(1) || d["destroyed"] != false {
		t.Fatalf("write: got %d %v, want 200 with data.version 1", st, body)
	}
	if st, body := do("POST", "data/"+key, token, `{"options":{"cas":0},"data":{"k":"x"}}`); st != http.StatusBadRequest || !strings.Contains(asString(errs(body)), "check-and-set parameter did not match the current version") {
		t.Fatalf("cas mismatch: got %d %v, want 400 check-and-set", st, body)
	}
	st, body = do("GET", "data/"+key, token, "")
	d, _ := body["data"].(map[string]any)
	if inner, _ := d["data"].(map[string]any); st != http.StatusOK || inner["k"] != "v1" {
		t.Fatalf("read: got %d %v", st, body)
	}
	if _, ok := body["request_id"]; !ok {
		t.Fatalf("read: no response envelope: %v", body)
	}
	if st, _ := do("DELETE", "data/"+key, token, ""); st != http.StatusNoContent {
		t.Fatalf("delete: got %d, want 204", st)
	}
	st, body = do("GET", "data/"+key, token, "")
	d, _ = body["data"].(map[string]any)
	md, _ := d["metadata"].(map[string]any)
	if st != http.StatusNotFound || d["data"] != nil || md["deletion_time"] == "" || md["deletion_time"] == nil {
		t.Fatalf("read deleted: got %d %v, want 404 with null data and the version's deletion_time", st, body)
	}
	if st, _ := do("POST", "undelete/"+key, token, `{"versions":[1]}`); st != http.StatusNoContent {
		t.Fatalf("undelete: got %d, want 204", st)
	}
	if st, _ := do("PUT", "destroy/"+key, token, `{"versions":[1]}`); st != http.StatusNoContent {
		t.Fatalf("destroy: got %d, want 204", st)
	}
	st, body = do("GET", "metadata/"+key, token, "")
	d, _ = body["data"].(map[string]any)
	vs, _ := d["versions"].(map[string]any)
	v1, _ := vs["1"].(map[string]any)
	if st != http.StatusOK || d["current_version"] != float64(1) || v1["destroyed"] != true {
		t.Fatalf("metadata: got %d %v", st, body)
	}
	folder := strings.TrimSuffix(key, "/k")
	st, body = do("LIST", "metadata/"+folder+"/", token, "")
	d, _ = body["data"].(map[string]any)
	if keys, _ := d["keys"].([]any); st != http.StatusOK || len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("list: got %d %v", st, body)
	}
	if st, _ := do("DELETE", "metadata/"+key, token, ""); st != http.StatusNoContent {
		t.Fatalf("delete metadata: got %d, want 204", st)
	}
	if st, _ := do("LIST", "metadata/"+folder+"/", token, ""); st != http.StatusNotFound {
		t.Fatalf("list of an empty folder: got %d, want 404", st)
	}
}

func asString(v []any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
