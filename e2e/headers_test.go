package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// forgedHeaders are the identity headers the design uses, in the spellings an attacker
// would try (case, underscores, and hop-by-hop removal of what the proxy sets).
var forgedHeaders = map[string]string{
	"X-Bulwark-User":   "tina",
	"x-bulwark-roles":  "teller",
	"X-Bulwark-Scopes": "admin",
	"X-Bulwark-Caller": "spiffe://bank.local/svc/payments",
	"X_Bulwark_User":   "tina",
	"X_BULWARK_ROLES":  "teller",
	"Connection":       "X-Bulwark-User, X-Bulwark-Caller",
}

func echoHeaders(t *testing.T, body []byte) http.Header {
	t.Helper()
	var e struct {
		Headers http.Header `json:"headers"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("echo body: %v (%s)", err, body)
	}
	return e.Headers
}

func assertNoForgedValue(t *testing.T, h http.Header) {
	t.Helper()
	for name, vals := range h {
		n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if !strings.HasPrefix(n, "x-bulwark-") {
			continue
		}
		for _, v := range vals {
			if strings.Contains(v, "tina") || strings.Contains(v, "teller") || strings.Contains(v, "admin") || (n == "x-bulwark-caller" && strings.HasSuffix(v, "/svc/payments") && name != "X-Bulwark-Caller") {
				t.Errorf("forged identity header reached the app: %s: %s", name, v)
			}
		}
	}
}

func TestIdentityHeadersFromClientsNeverReachApps(t *testing.T) {
	alice := tokenFor(t, "alice")

	t.Run("through the gateway", func(t *testing.T) {
		code, body, _ := call(t, http.MethodGet, "/echo/who", alice, nil, forgedHeaders)
		if code != http.StatusOK {
			t.Fatalf("GET /echo/who: got %d (body %s)", code, body)
		}
		h := echoHeaders(t, body)
		assertNoForgedValue(t, h)
		if got := h.Get("X-Bulwark-User"); got != "alice" {
			t.Errorf("X-Bulwark-User: got %q, want alice (from the token)", got)
		}
		if got := h.Get("X-Bulwark-Roles"); got != "customer" {
			t.Errorf("X-Bulwark-Roles: got %q, want customer (from the token)", got)
		}
		if got, want := h.Get("X-Bulwark-Caller"), "spiffe://"+env.ep.TrustDomain+"/svc/gateway"; got != want {
			t.Errorf("X-Bulwark-Caller: got %q, want %q (set by the sidecar)", got, want)
		}
		if got := h.Get("Authorization"); got != "" {
			t.Error("the bearer token reached the app")
		}
	})

	t.Run("bank apps act on the token, not on forged headers", func(t *testing.T) {
		if got := listAccounts(t, alice); strings.Join(got, ",") != "A-1001" {
			t.Errorf("alice with forged teller headers sees %v, want [A-1001]", got)
		}
		code, _, _ := call(t, http.MethodGet, "/api/accounts/A-1002", alice, nil, forgedHeaders)
		if code != http.StatusForbidden {
			t.Errorf("alice with forged headers reads bob's account: got %d, want 403", code)
		}
	})

	t.Run("over the mesh from a workload that is not the gateway", func(t *testing.T) {
		pay, bundle := svidFor(t, "payments")
		c := meshClient(pay, bundle, "echo")
		req, _ := http.NewRequest(http.MethodGet, "https://"+env.ep.Services["echo"].MTLSAddr+"/echo/mesh", nil)
		for k, v := range forgedHeaders {
			req.Header[k] = []string{v}
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("payments → echo: got %d (%s)", resp.StatusCode, body)
		}
		h := echoHeaders(t, body)
		assertNoForgedValue(t, h)
		if got := h.Get("X-Bulwark-User"); got != "" {
			t.Errorf("X-Bulwark-User from a non-gateway caller reached the app: %q", got)
		}
		if got := h.Get("X-Bulwark-Caller"); got != env.ep.Services["payments"].SPIFFEID {
			t.Errorf("X-Bulwark-Caller: got %q, want the payments ID", got)
		}
	})
}
