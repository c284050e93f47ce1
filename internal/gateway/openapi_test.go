package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// TestOpenAPIValidation sends requests that break the bank's documents through the real
// gateway: each is refused with the status, code and rule expected, audited, and never
// reaches a service; the valid ones are forwarded with the body that was validated.
func TestOpenAPIValidation(t *testing.T) {
	h := newGuardHarness(t)
	alice := h.token("alice", []string{"customer"}, "")
	tests := []struct {
		name, method, path, ctype, body string
		wantStatus                      int
		wantCode, wantMsg               string // for refusals
		wantRule                        string // audit rule
	}{
		{"valid payment", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":10}`, 200, "", "", ""},
		{"valid payment, charset", "POST", "/api/payments", "application/json; charset=utf-8", `{"from":"A-1001","to":"A-1002","amount":1}`, 200, "", "", ""},
		{"missing amount", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002"}`, 400, "invalid_request",
			`request body property "amount" is missing`, "gateway.routes[0].openapi"},
		{"amount 0", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":0}`, 400, "invalid_request",
			"request body at /amount number must be at least 1", "gateway.routes[0].openapi"},
		{"amount as a string", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":"5"}`, 400, "invalid_request",
			"request body at /amount value must be an integer", "gateway.routes[0].openapi"},
		{"amount a fraction", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":1.5}`, 400, "invalid_request",
			"request body at /amount value must be an integer", "gateway.routes[0].openapi"},
		{"unknown field", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":5,"memo":"x"}`, 400, "invalid_request",
			`property "memo" is unsupported`, "gateway.routes[0].openapi"},
		{"from not an account id", "POST", "/api/payments", "application/json", `{"from":"A-1","to":"A-1002","amount":5}`, 400, "invalid_request",
			"request body at /from string doesn't match the regular expression", "gateway.routes[0].openapi"},
		{"wrong content type", "POST", "/api/payments", "text/plain", `{"from":"A-1001","to":"A-1002","amount":5}`, 400, "invalid_request",
			`content type "text/plain" is not accepted; want application/json`, "gateway.routes[0].openapi"},
		{"no body", "POST", "/api/payments", "application/json", "", 400, "invalid_request",
			"a request body is required", "gateway.routes[0].openapi"},
		{"not JSON", "POST", "/api/payments", "application/json", `{"from":`, 400, "invalid_request",
			"request body is not valid JSON", "gateway.routes[0].openapi"},
		{"duplicate member", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":5,"amount":500}`, 400, "invalid_request",
			`request body has the member "amount" twice in one object`, "gateway.routes[0].openapi"},
		{"trailing value", "POST", "/api/payments", "application/json", `{"from":"A-1001","to":"A-1002","amount":5} {"amount":500}`, 400, "invalid_request",
			"request body holds more than one JSON value", "gateway.routes[0].openapi"},
		{"undeclared query parameter", "POST", "/api/payments?debug=1", "application/json", `{"from":"A-1001","to":"A-1002","amount":5}`, 400, "invalid_request",
			`query parameter "debug" is not declared by the operation`, "gateway.routes[0].openapi"},
		{"JSON in another charset", "POST", "/api/payments", "application/json; charset=shift_jis", `{"from":"A-1001","to":"A-1002","amount":5}`, 400, "invalid_request",
			"a JSON body must be UTF-8", "gateway.routes[0].openapi"},
		{"list accounts", "GET", "/api/accounts?limit=10", "", "", 200, "", "", ""},
		{"repeated query parameter", "GET", "/api/accounts?limit=1&limit=1000", "", "", 400, "invalid_request",
			`query parameter "limit" is given more than once`, "gateway.routes[1].openapi"},
		{"limit not an integer", "GET", "/api/accounts?limit=abc", "", "", 400, "invalid_request",
			`query parameter "limit" is not in the form its schema describes`, "gateway.routes[1].openapi"},
		{"limit 0", "GET", "/api/accounts?limit=0", "", "", 400, "invalid_request",
			`query parameter "limit" number must be at least 1`, "gateway.routes[1].openapi"},
		{"query that does not parse", "GET", "/api/accounts?limit=%zz", "", "", 400, "invalid_request",
			"the query string is not valid form encoding", "gateway.routes[1].openapi"},
		{"account id pattern", "GET", "/api/accounts/xyz", "", "", 400, "invalid_request",
			`path parameter "id" string doesn't match the regular expression`, "gateway.routes[1].openapi"},
		{"balance", "GET", "/api/accounts/A-1001/balance", "", "", 200, "", "", ""},
		{"path not in the document", "GET", "/api/accounts/A-1001/history", "", "", 404, "not_found",
			"the route's API document has no operation for this path", "gateway.routes[1].openapi"},
		{"body on a GET", "GET", "/api/accounts", "application/json", `{}`, 400, "invalid_request",
			"this operation takes no request body", "gateway.routes[1].openapi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.hits()
			resp, body := h.send(tt.method, tt.path, alice, tt.ctype, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 200 {
				var e echoed
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("upstream answer: %v", err)
				}
				sum := sha256.Sum256([]byte(tt.body))
				if got, want := e.BodySHA, hex.EncodeToString(sum[:]); got != want || e.BodyLen != int64(len(tt.body)) {
					t.Errorf("forwarded body: got %d bytes (sha256 %s), want the %d bytes sent", e.BodyLen, got, len(tt.body))
				}
				return
			}
			code, reqID := errorBody(t, body)
			if code != tt.wantCode {
				t.Errorf("code: got %q, want %q", code, tt.wantCode)
			}
			if !strings.Contains(string(body), jsonString(tt.wantMsg)) {
				t.Errorf("message: got %s, want it to contain %q", body, tt.wantMsg)
			}
			if after := h.hits(); !maps.Equal(after, before) {
				t.Errorf("upstream hits: got %v after, %v before: the service saw the request", after, before)
			}
			evs := h.auditFor(reqID)
			if len(evs) == 0 {
				t.Fatalf("no audit event for request %s", reqID)
			}
			last := evs[len(evs)-1]
			if last.Kind != kindValidation || last.Outcome != audit.Deny || last.Rule != tt.wantRule || last.User != "alice" || !strings.Contains(last.Reason, tt.wantMsg) {
				t.Errorf("audit: got %+v, want a %s deny of alice by %s naming %q", last, kindValidation, tt.wantRule, tt.wantMsg)
			}
		})
	}
}

// jsonString is s as it appears inside a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// TestOpenAPINeverEchoesValues: a refused value is not in the answer or the audit record.
func TestOpenAPINeverEchoesValues(t *testing.T) {
	h := newGuardHarness(t)
	alice := h.token("alice", []string{"customer"}, "")
	const secret = "s3cr3t-card-4111111111111111"
	for _, body := range []string{
		`{"from":"A-1001","to":"A-1002","amount":"` + secret + `"}`,
		`{"from":"` + secret + `","to":"A-1002","amount":5}`,
		`{"from":"A-1001","to":"A-1002","amount":5,"memo":"` + secret + `"}`,
	} {
		resp, got := h.send("POST", "/api/payments", alice, "application/json", body)
		if resp.StatusCode != 400 || strings.Contains(string(got), secret) {
			t.Errorf("%s: got %d %s, want 400 without the value", body, resp.StatusCode, got)
		}
	}
	resp, got := h.send("GET", "/api/accounts?limit="+secret, alice, "", "")
	if resp.StatusCode != 400 || strings.Contains(string(got), secret) {
		t.Errorf("query: got %d %s, want 400 without the value", resp.StatusCode, got)
	}
	data, err := io.ReadAll(strings.NewReader(h.logs.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.auditEvents() {
		if strings.Contains(e.Reason, secret) {
			t.Errorf("audit record holds the value: %+v", e)
		}
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("log holds the value")
	}
}

// TestOpenAPIAfterAuth: the schema is checked only after authentication and
// authorization, so a caller who may not use the route learns nothing of it.
func TestOpenAPIAfterAuth(t *testing.T) {
	h := newGuardHarness(t)
	bad := `{"memo":"x"}`
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"teller may not pay", h.token("tina", []string{"teller"}, ""), http.StatusForbidden},
		{"customer", h.token("alice", []string{"customer"}, ""), http.StatusBadRequest},
	} {
		resp, body := h.send("POST", "/api/payments", tc.token, "application/json", bad)
		if resp.StatusCode != tc.want || (tc.want != 400 && strings.Contains(string(body), "memo")) {
			t.Errorf("%s: got %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
}

// TestOpenAPIOneContentType: with two Content-Type headers the gateway would validate the
// body as the first while a service that reads the last (gunicorn's CONTENT_TYPE) parsed
// it as another type, e.g. as a form whose fields the schema never saw.
func TestOpenAPIOneContentType(t *testing.T) {
	h := newGuardHarness(t)
	req, err := http.NewRequest(http.MethodPost, h.url+"/api/payments", strings.NewReader(`{"from":"A-1001","to":"A-1002","amount":5}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token("alice", []string{"customer"}, ""))
	req.Header["Content-Type"] = []string{"application/json", "application/x-www-form-urlencoded"}
	before := h.hits()
	resp, body := h.do(req)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "more than one Content-Type header") {
		t.Errorf("got %d %s, want 400 naming the repeated Content-Type", resp.StatusCode, body)
	}
	if !maps.Equal(h.hits(), before) {
		t.Error("the service saw the request")
	}
}

// TestOpenAPIStreamedBody: a body without Content-Length is read once, validated and
// forwarded whole, with its length.
func TestOpenAPIStreamedBody(t *testing.T) {
	h := newGuardHarness(t)
	body := `{"from":"A-1001","to":"A-1002","amount":42}`
	pr, pw := io.Pipe()
	go func() {
		for _, part := range []string{body[:10], body[10:]} {
			_, _ = pw.Write([]byte(part))
		}
		_ = pw.Close()
	}()
	req, err := http.NewRequest("POST", h.url+"/api/payments", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token("alice", []string{"customer"}, ""))
	req.Header.Set("Content-Type", "application/json")
	resp, got := h.do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("status: got %d (%s), want 200", resp.StatusCode, got)
	}
	var e echoed
	if err := json.Unmarshal(got, &e); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if e.BodySHA != hex.EncodeToString(sum[:]) || e.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("forwarded: sha256 %s, Content-Length %q; want the body sent, %d", e.BodySHA, e.Header.Get("Content-Length"), len(body))
	}
}

// TestOpenAPIScopes: a document's OAuth2 scopes narrow the route; an empty requirement
// ({}) lets any authenticated caller through (the route still needs its token).
func TestOpenAPIScopes(t *testing.T) {
	h := newGuardHarness(t)
	tests := []struct {
		name, path, scope string
		want              int
	}{
		{"scope missing", "/reports/daily", "", http.StatusForbidden},
		{"other scope", "/reports/daily", "reports.write", http.StatusForbidden},
		{"scope present", "/reports/daily", "reports.read", http.StatusOK},
		{"no requirement", "/reports/public", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.send("GET", tt.path, h.token("rita", nil, tt.scope), "", "")
			if resp.StatusCode != tt.want {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(string(body), `lacks the scope \"reports.read\"`) {
				t.Errorf("body: got %s, want it to name the scope", body)
			}
		})
	}
}
