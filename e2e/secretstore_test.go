package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/identity"
)

// The bank's webhook signing key, created by `up` and granted (read) to payments only.
const webhookKeyPath = "payments/webhook-signing-key"

// outboundClient is an app's view of its sidecar: plain HTTP on the service's outbound
// unix socket, no credential.
func outboundClient(service string) *http.Client { return outboundClientIn(env.state, service) }

func outboundClientIn(state, service string) *http.Client {
	sock := filepath.Join(state, "run", service+".mesh.sock")
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
}

type secretAnswer struct {
	status    int
	requestID string
	body      map[string]any
}

func getSecret(t *testing.T, c *http.Client, url string) secretAnswer {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := secretAnswer{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id")}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("GET %s: %d, body is not JSON: %q", url, resp.StatusCode, b)
	}
	return a
}

// secretEvent finds the one audit event of kind secret with the request id.
func secretEvent(t *testing.T, requestID string) map[string]any {
	t.Helper()
	var evs []map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if evs = auditLines(t, `"kind":"secret"`, requestID); len(evs) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(evs) != 1 {
		t.Fatalf("audit: got %d secret events for request %s, want 1", len(evs), requestID)
	}
	return evs[0]
}

// TestSecretGrantedAndDenied: an app reads a secret through its sidecar with no credential
// of its own. Payments, granted, gets it; notifications and ledger, not granted, get 403.
// Every read is audited with the path HMAC-ed, and neither the path nor the value appears
// in clear in any log or audit record, nor the value anywhere in the state dir.
func TestSecretGrantedAndDenied(t *testing.T) {
	url := "http://bulwark/v1/secrets/" + webhookKeyPath
	ok := getSecret(t, outboundClient("payments"), url)
	data, _ := ok.body["data"].(map[string]any)
	value, _ := data["key"].(string)
	if key, err := base64.StdEncoding.DecodeString(value); ok.status != http.StatusOK || err != nil || len(key) != 32 {
		t.Fatalf("payments reading its granted secret: got %d %v, want 200 and a 32-byte key", ok.status, ok.body)
	}
	allow := secretEvent(t, ok.requestID)
	hash, _ := allow["path_hmac"].(string)
	if allow["outcome"] != "allow" || allow["reason"] != "read" || allow["caller"] != env.ep.Services["payments"].SPIFFEID ||
		allow["component"] != "control" || allow["rule"] != "services[1].secrets[0]" || !strings.HasPrefix(hash, "hmac-sha256:") || len(hash) != len("hmac-sha256:")+64 {
		t.Errorf("allow event: got %v", allow)
	}
	// The operator can find a path's events: `bulwark secrets hash` gives the same HMAC.
	if out, errOut, code := bw(t, "secrets", "hash", webhookKeyPath, "--state-dir", env.state); code != 0 || strings.TrimSpace(out) != hash {
		t.Errorf("bulwark secrets hash: got %q (exit %d, %s), want the event's %q", out, code, errOut, hash)
	}

	for _, svc := range []string{"notifications", "ledger"} {
		denied := getSecret(t, outboundClient(svc), url)
		e, _ := denied.body["error"].(map[string]any)
		if denied.status != http.StatusForbidden || e["code"] != "forbidden" || e["request_id"] != denied.requestID || denied.requestID == "" {
			t.Fatalf("%s reading an ungranted secret: got %d %v, want 403 forbidden with the request id", svc, denied.status, denied.body)
		}
		if _, leaked := denied.body["data"]; leaked {
			t.Fatalf("%s got data with its 403", svc)
		}
		deny := secretEvent(t, denied.requestID)
		if deny["outcome"] != "deny" || deny["reason"] != "no grant for read" || deny["caller"] != env.ep.Services[svc].SPIFFEID || deny["path_hmac"] != hash {
			t.Errorf("%s deny event: got %v, want a deny with the same path HMAC as the allow", svc, deny)
		}
		if _, has := deny["path"]; has {
			t.Errorf("%s deny event carries a clear path: %v", svc, deny)
		}
	}

	// Nothing in clear: the path and value in no log or audit line, the value in no file.
	texts := map[string]string{"up stdout": env.up.Stdout(), "up stderr": env.up.Stderr()}
	err := filepath.WalkDir(env.state, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), value) {
			t.Errorf("the secret value appears in clear in %s", p)
		}
		if ext := filepath.Ext(p); ext == ".jsonl" || ext == ".log" || ext == ".json" {
			texts[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range texts {
		for _, clear := range []string{webhookKeyPath, "webhook-signing-key", value} {
			if strings.Contains(text, clear) {
				t.Errorf("%q appears in clear in %s", clear, where)
			}
		}
	}
}

// TestSecretAPIOverMTLSWithSVID: the control plane identifies callers by SVID alone; a
// service's SVID used directly (as its sidecar does) gets the same answers, and the
// control plane's gateway-only endpoints stay closed to it.
func TestSecretAPIOverMTLSWithSVID(t *testing.T) {
	if env.ep.Control.MTLSAddr == "" {
		t.Fatal("endpoints.json names no control plane")
	}
	want := spiffeid.RequireFromString(env.ep.Control.SPIFFEID)
	client := func(svc string) *http.Client {
		svid, bundle := svidFor(t, svc)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: identity.ClientTLS(svid, bundle, want)}}
	}
	base := "https://" + env.ep.Control.MTLSAddr
	if a := getSecret(t, client("payments"), base+"/v1/secrets/"+webhookKeyPath); a.status != http.StatusOK {
		t.Fatalf("payments: got %d %v", a.status, a.body)
	}
	if a := getSecret(t, client("accounts"), base+"/v1/secrets/"+webhookKeyPath); a.status != http.StatusForbidden {
		t.Fatalf("accounts: got %d %v, want 403", a.status, a.body)
	}
	if a := getSecret(t, client("payments"), base+"/oidc/.well-known/openid-configuration"); a.status != http.StatusForbidden {
		t.Fatalf("payments to the gateway-only identity provider: got %d %v, want 403", a.status, a.body)
	}
}

// TestSecretGrantRevokedByReload: removing a grant from bulwark.yaml takes effect without a
// restart; the next read is refused and audited.
func TestSecretGrantRevokedByReload(t *testing.T) {
	s := startReloadStack(t)
	url := "http://bulwark/v1/secrets/" + webhookKeyPath
	if a := getSecret(t, outboundClientIn(s.state, "payments"), url); a.status != http.StatusOK {
		t.Fatalf("before the reload: got %d %v", a.status, a.body)
	}
	cfg := readFile(t, s.cfg)
	revoked := strings.Replace(cfg, `      - path: "payments/*"`, `      - path: "payments-archive/*"`, 1)
	if revoked == cfg {
		t.Fatal("the test config has no payments/* secret grant")
	}
	if err := os.WriteFile(s.cfg, []byte(revoked), 0o600); err != nil {
		t.Fatal(err)
	}
	var last secretAnswer
	deadline := time.Now().Add(5 * time.Second)
	for last = getSecret(t, outboundClientIn(s.state, "payments"), url); last.status != http.StatusForbidden && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		last = getSecret(t, outboundClientIn(s.state, "payments"), url)
	}
	if last.status != http.StatusForbidden {
		t.Fatalf("after revoking the grant: got %d, want 403 within 5 s", last.status)
	}
	evs := auditLinesIn(t, s.ep.AuditLog, `"kind":"secret"`, last.requestID)
	if len(evs) != 1 || evs[0]["outcome"] != "deny" {
		t.Errorf("audit of the refused read: got %v", evs)
	}
}

func auditLinesIn(t *testing.T, path string, subs ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(readFile(t, path), "\n") {
		keep := line != ""
		for _, sub := range subs {
			keep = keep && strings.Contains(line, sub)
		}
		if !keep {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		out = append(out, m)
	}
	return out
}
