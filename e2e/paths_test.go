package e2e

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawGet sends target byte for byte as the request-target of one HTTP/1.1 request over
// TLS (Go's client would refuse or re-escape most of these spellings) and returns the
// status, body and X-Request-Id. Status 0 means the gateway closed without answering.
func rawGet(t *testing.T, target, token string) (int, []byte, string) {
	t.Helper()
	host := strings.TrimPrefix(env.ep.Gateway, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{RootCAs: env.edgePool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("dial gateway: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, nil, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header.Get("X-Request-Id")
}

// attackSpellings each aim at something the bank's policy refuses to alice (bob's account
// A-1002, or the ledger, which no edge route reaches) or at a path only reachable through
// another spelling. None may be answered 2xx, for alice or anonymously.
var attackSpellings = []string{
	"/api/accounts/../ledger",
	"/api/accounts/../../ledger/balances/A-1001",
	"/api/accounts/A-1001/../A-1002",
	"/api/accounts/A-1002/../A-1001/../A-1002",
	"//api//accounts/A-1002",
	"/api//accounts/A-1002",
	"/api/accounts/%2e%2e/A-1002",
	"/api/accounts/A-1001/%2E%2E/A-1002",
	"/api/accounts/.%2e/A-1002",
	"/api/accounts%2FA-1002",
	"/api/accounts%2fA-1002",
	"/api/accounts/A-1001%2F..%2FA-1002",
	"/api/accounts/%252e%252e/A-1002",
	"/api/accounts/A-1001/%252e%252e/A-1002",
	"/api/accounts%252fA-1002",
	"/API/ACCOUNTS/A-1002",
	"/Api/Accounts/A-1002",
	"/api/ACCOUNTS/a-1002",
	"/api/accounts/A-1002;jsessionid=x",
	"/api/accounts/..;/ledger",
	"/api/accounts/A-1001;/../A-1002",
	"/api/accounts/A-1002.",
	"/api/accounts/A-1002/",
	"/api/accounts/A-1002/balance/",
	"/api/accounts/A-1002..",
	"/api/accounts/A-1002%2e",
	"/api/accounts/A-1002/.",
	`/api/accounts\A-1002`,
	`/api/accounts/A-1001\..\A-1002`,
	"/api/accounts/A-1001%5c..%5cA-1002",
	"/api/accounts/A-1002%09",
	"/api/accounts/A-1002\t",
	"/api/accounts/A-1002 x",
	"/api/accounts/A-1002%00",
	"/api/accounts/A-1002%0d%0aX-Bulwark-User:%20tina",
	"/api/accounts/A-1002%ff",
	"/api/accounts/%c0%ae%c0%ae/A-1002",
	"/api/accounts/A-1002%20",
	"/ledger/balances/A-1001",
	"/balances/A-1001",
	"/entries",
	"/api/accounts/A-1002?x=" + strings.Repeat("a", 9000),
	"/api/accounts/" + strings.Repeat("A", 9000),
}

// TestPathSpellingsAgainstTheRunningGateway: acceptance of "no spelling of a path reaches
// a route that its policy would refuse" against `bulwark up` with the bank.
func TestPathSpellingsAgainstTheRunningGateway(t *testing.T) {
	alice := tokenFor(t, "alice")

	// Controls: the plain spelling works for alice, and so does an escaped letter, which
	// reaches her account and is decided (and audited) as the path the app receives.
	if code, body, _ := rawGet(t, "/api/accounts/A-1001", alice); code != http.StatusOK {
		t.Fatalf("alice reads A-1001: got %d, want 200 (body %s)", code, body)
	}
	code, body, rid := rawGet(t, "/api/accounts/%41-1001", alice)
	if code != http.StatusOK || !strings.Contains(string(body), "A-1001") {
		t.Fatalf("alice reads %%41-1001: got %d, want 200 for A-1001 (body %s)", code, body)
	}
	if evs := auditLines(t, rid, `"outcome":"allow"`); len(evs) == 0 || evs[0]["path"] != "/api/accounts/A-1001" {
		t.Errorf("audit of %%41-1001: got %v, want an allow on path /api/accounts/A-1001", evs)
	}
	code, body, _ = rawGet(t, "/echo/%41b%20c", alice)
	var echoed struct{ Path string }
	if code != http.StatusOK || json.Unmarshal(body, &echoed) != nil || echoed.Path != "/echo/Ab c" {
		t.Errorf("echo app: got %d %s, want 200 and path %q", code, body, "/echo/Ab c")
	}

	for _, who := range []struct{ name, token string }{{"alice", alice}, {"anonymous", ""}} {
		for _, target := range attackSpellings {
			t.Run(fmt.Sprintf("%s %.60q", who.name, target), func(t *testing.T) {
				code, body, _ := rawGet(t, target, who.token)
				if code >= 200 && code < 300 {
					t.Fatalf("got %d, want a refusal (body %.300s)", code, body)
				}
				if strings.Contains(string(body), `"owner":"bob"`) || strings.Contains(string(body), "balance") {
					t.Fatalf("got %d with bob's data or a balance: %.300s", code, body)
				}
				switch {
				case code == 0:
					// Closed without an answer: nothing reached.
				case len(target) > 8192:
					if code != http.StatusRequestURITooLong {
						t.Errorf("over-long URL: got %d, want 414", code)
					}
					assertErrorBody(t, body, "uri_too_long")
				case strings.ContainsAny(target, " \t"):
					// Not HTTP at all: Go's parser answers a plain 400 before any handler.
					if code != http.StatusBadRequest {
						t.Errorf("malformed request line: got %d, want 400", code)
					}
				default:
					var e struct {
						Error struct{ Code string } `json:"error"`
					}
					if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
						t.Errorf("got %d with body %.200s, want a JSON error with a code", code, body)
					}
				}
			})
		}
	}
}
