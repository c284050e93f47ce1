package gateway

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// guardConfig puts the bank's own OpenAPI documents, a methods list, CORS and ips lists
// on routes in front of the harness's echo upstreams. REPORTS is the path of a document
// whose operation needs an OAuth2 scope.
const guardConfig = `
trust_domain: bank.local
services:
  - name: accounts
    upstream: unix:accounts.sock
  - name: payments
    upstream: unix:payments.sock
gateway:
  routes:
    - path: /api/payments
      service: payments
      roles: [customer]
      methods: [POST]
      openapi: ../../examples/bank/openapi/payments.yaml
      cors:
        origins: ["https://app.example"]
        headers: [Authorization, Content-Type]
        credentials: true
        max_age: 10m
    - path: /api/accounts/**
      service: accounts
      roles: [customer, teller]
      methods: [GET]
      openapi: ../../examples/bank/openapi/accounts.yaml
    - path: /reports/**
      service: accounts
      openapi: REPORTS
    - path: /unvalidated/payments
      service: payments
      roles: [customer]
    - path: /denied/**
      service: accounts
      auth: none
      ips: {allow: [127.0.0.0/8], deny: [10.0.0.0/8, 127.0.0.1]}
    - path: /elsewhere/**
      service: accounts
      auth: none
      ips: {allow: [10.0.0.0/8, "2001:db8::/32"]}
    - path: /allowed/**
      service: accounts
      auth: none
      ips: {allow: [127.0.0.1], deny: [10.0.0.0/8]}
identity_provider:
  audience: bank-api
audit:
  unsafe_fail_open: FAILOPEN
`

const reportsDoc = `openapi: 3.0.3
info: {title: reports, version: "1"}
paths:
  /reports/daily:
    get:
      security:
        - oauth: [reports.read]
      responses:
        "200": {description: ok}
  /reports/public:
    get:
      security:
        - {}
      responses:
        "200": {description: ok}
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: https://issuer.example/token
          scopes: {reports.read: read reports}
`

func newGuardHarness(t *testing.T) *harness {
	t.Helper()
	reports := filepath.Join(t.TempDir(), "reports.yaml")
	if err := os.WriteFile(reports, []byte(reportsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	return newHarness(t, harnessOpts{config: strings.Replace(guardConfig, "REPORTS", reports, 1)})
}

// send makes a request with an optional bearer token, content type and body.
func (h *harness) send(method, path, token, contentType, body string, hdr ...string) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.do(req)
}

// auditFor returns the audit events of one request.
func (h *harness) auditFor(requestID string) []audit.Event {
	h.t.Helper()
	var out []audit.Event
	for _, e := range h.auditEvents() {
		if e.RequestID == requestID {
			out = append(out, e)
		}
	}
	return out
}

// hits returns the request count of every upstream, to compare before and after.
func (h *harness) hits() map[string]int64 {
	out := map[string]int64{}
	for name, u := range h.upstream {
		out[name] = u.hits.Load()
	}
	return out
}
