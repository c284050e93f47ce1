package gateway

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	token := h.token("alice", []string{"customer"}, "")
	const cookie = "session-cookie-value-3f9a"
	const queryValue = "query-secret-value-77c1"
	tests := []struct {
		name       string
		path       string
		token      bool
		wantStatus int
		wantPath   string
		wantUser   string
		wantRoute  string
	}{
		{name: "allowed", path: "/api/accounts/alice?api_key=" + queryValue, token: true, wantStatus: 200, wantPath: "/api/accounts/alice", wantUser: "alice", wantRoute: "/api/accounts/**"},
		{name: "denied", path: "/api/payments", token: true, wantStatus: 403, wantPath: "/api/payments", wantUser: "alice", wantRoute: "/api/payments"},
		{name: "unauthenticated", path: "/api/accounts/alice", wantStatus: 401, wantPath: "/api/accounts/alice", wantRoute: "/api/accounts/**"},
		{name: "CRLF injection", path: "/public/x%0D%0A%7B%22msg%22:%22forged%22%7D%0D%0A", wantStatus: 400, wantPath: `/public/x{"msg":"forged"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Cookie": "session=" + cookie}
			if tt.token {
				hdr["Authorization"] = "Bearer " + token
			}
			resp, _ := h.get(tt.path, hdr)
			if got, want := resp.StatusCode, tt.wantStatus; got != want {
				t.Fatalf("status: got %d, want %d", got, want)
			}
			line := findLogLine(t, h.logs.String(), resp.Header.Get("X-Request-Id"))
			for key, want := range map[string]any{
				"msg": "request", "method": "GET", "path": tt.wantPath, "status": float64(tt.wantStatus),
				"user": nilIfEmpty(tt.wantUser), "route": nilIfEmpty(tt.wantRoute),
			} {
				if got := line[key]; got != want {
					t.Errorf("log %s: got %v, want %v", key, got, want)
				}
			}
			for _, key := range []string{"time", "remote", "bytes", "duration_ms"} {
				if _, ok := line[key]; !ok {
					t.Errorf("log: no %q field in %v", key, line)
				}
			}
		})
	}
	logs := h.logs.String()
	for _, secret := range []string{token, cookie, queryValue, "Bearer", `\r`, `\n`, "\r"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for line := range strings.Lines(logs) {
		if strings.HasPrefix(line, `{"msg":"forged"`) {
			t.Errorf("a forged log line was injected: %s", line)
		}
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// findLogLine returns the access log line for request id rid.
func findLogLine(t *testing.T, logs, rid string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if m["msg"] == "request" && m["request_id"] == rid {
			return m
		}
	}
	t.Fatalf("no access log line for request %s in:\n%s", rid, logs)
	return nil
}
