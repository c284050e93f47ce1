package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withBankOpenAPI points the bank config's openapi: paths (relative to
// examples/bank) at the real documents, for a copy of the config written elsewhere.
func withBankOpenAPI(cfg string) string {
	dir, err := filepath.Abs("../examples/bank")
	if err != nil {
		panic(err) // only when the working directory is gone
	}
	return strings.ReplaceAll(cfg, "openapi: openapi/", "openapi: "+dir+"/openapi/")
}

// TestOpenAPIRefusedAtGateway sends requests that break the bank's OpenAPI documents to
// the running `bulwark up`: each is refused with 400 invalid_request naming the rule,
// audited by the gateway, and never reaches the service. The observable for the latter is
// the service's sidecar: it audits every request it receives, with the request id, so a
// valid request shows a sidecar event and a refused one must not.
func TestOpenAPIRefusedAtGateway(t *testing.T) {
	alice, tina := tokenFor(t, "alice"), tokenFor(t, "tina")
	raw := func(s string) any { return json.RawMessage(s) }
	refused := map[string]string{} // request id -> case
	tests := []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		wantStatus         int
		wantMsg            string
	}{
		{"missing amount", "POST", "/api/payments", raw(`{"from":"A-1001","to":"A-1002"}`), nil, 400,
			`request body property "amount" is missing`},
		{"amount 0", "POST", "/api/payments", raw(`{"from":"A-1001","to":"A-1002","amount":0}`), nil, 400,
			"request body at /amount number must be at least 1"},
		{"amount as a string", "POST", "/api/payments", raw(`{"from":"A-1001","to":"A-1002","amount":"5"}`), nil, 400,
			"request body at /amount value must be an integer"},
		{"unknown field", "POST", "/api/payments", raw(`{"from":"A-1001","to":"A-1002","amount":5,"note":"hi"}`), nil, 400,
			`property "note" is unsupported`},
		{"wrong content type", "POST", "/api/payments", raw(`{"from":"A-1001","to":"A-1002","amount":5}`), map[string]string{"Content-Type": "text/plain"}, 400,
			`content type "text/plain" is not accepted; want application/json`},
		{"bad query", "GET", "/api/accounts?limit=abc", nil, nil, 400,
			`query parameter "limit" is not in the form its schema describes`},
		{"undeclared query parameter", "GET", "/api/accounts?debug=1", nil, nil, 400,
			`query parameter "debug" is not declared by the operation`},
		// A teller may read any account, so the policy lets this through to validation.
		{"malformed account id", "GET", "/api/accounts/A-12", nil, map[string]string{"Authorization": "Bearer TINA"}, 400,
			`path parameter "id" string doesn't match the regular expression`},
		{"method not allowed", "DELETE", "/api/payments", nil, nil, 405, "method not allowed on this route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hdr["Authorization"] == "Bearer TINA" {
				tt.hdr["Authorization"] = "Bearer " + tina
			}
			code, body, hdr := call(t, tt.method, tt.path, alice, tt.body, tt.hdr)
			if code != tt.wantStatus {
				t.Fatalf("status: got %d (%s), want %d", code, body, tt.wantStatus)
			}
			var e struct {
				Error struct {
					Code      string `json:"code"`
					Message   string `json:"message"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			wantCode := map[int]string{400: "invalid_request", 405: "method_not_allowed"}[tt.wantStatus]
			if e.Error.Code != wantCode || !strings.Contains(e.Error.Message, tt.wantMsg) || e.Error.RequestID == "" {
				t.Errorf("error: got %+v, want code %s naming %q, with a request id", e.Error, wantCode, tt.wantMsg)
			}
			if tt.wantStatus == 405 && hdr.Get("Allow") != "POST" {
				t.Errorf("Allow: got %q, want POST", hdr.Get("Allow"))
			}
			if got := auditLines(t, `"request_id":"`+e.Error.RequestID+`"`, `"component":"gateway"`, `"outcome":"deny"`); len(got) != 1 {
				t.Errorf("gateway audit events for %s: got %d, want 1 deny", e.Error.RequestID, len(got))
			}
			refused[e.Error.RequestID] = tt.name
		})
	}

	// The control: a valid request of each kind reaches its service, whose sidecar audits it.
	for _, c := range []struct {
		method, path, service string
		body                  any
	}{
		{"GET", "/api/accounts?limit=5", "accounts", nil},
		{"POST", "/api/payments", "payments", raw(`{"from":"A-1001","to":"A-1002","amount":1}`)},
	} {
		code, body, hdr := call(t, c.method, c.path, alice, c.body, nil)
		if code != http.StatusOK && code != http.StatusCreated {
			t.Fatalf("valid %s %s: got %d (%s)", c.method, c.path, code, body)
		}
		id := hdr.Get("X-Request-Id")
		deadline := time.Now().Add(5 * time.Second)
		for len(auditLines(t, `"request_id":"`+id+`"`, `"component":"sidecar/`+c.service+`"`)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("valid %s %s (request %q): no sidecar/%s audit event within 5s, so its absence proves nothing", c.method, c.path, id, c.service)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The sidecars audited the later valid requests: had a refused one reached them, its
	// event would be there by now.
	for id, name := range refused {
		if got := auditLines(t, `"request_id":"`+id+`"`, `"component":"sidecar/`); len(got) != 0 {
			t.Errorf("%s: sidecar audit events %v for a request refused at the gateway: the service saw it", name, got)
		}
	}
}
