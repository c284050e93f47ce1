package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestDeniedLateralCallIsOneExactAuditEvent is issue 5's acceptance: the walking skeleton's
// denied lateral call (notifications' SVID calling ledger) produces exactly one audit event,
// and every field of it is the one the schema (README "Audit events") promises.
func TestDeniedLateralCallIsOneExactAuditEvent(t *testing.T) {
	notif, bundle := svidFor(t, "notifications")
	before := time.Now().UTC().Add(-time.Second)
	code, body := meshCall(t, meshClient(notif, bundle, "ledger"), "ledger", http.MethodPost, "/entries", nil)
	if code != http.StatusForbidden {
		t.Fatalf("notifications → ledger: got %d, want 403 (body %s)", code, body)
	}
	var resp struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Error.RequestID == "" {
		t.Fatalf("403 body without a request id: %s", body)
	}
	events := auditLines(t, `"request_id":"`+resp.Error.RequestID+`"`)
	if len(events) != 1 {
		t.Fatalf("audit events for request %s: got %d, want exactly 1: %v", resp.Error.RequestID, len(events), events)
	}
	ev := events[0]

	// Generated fields: checked for form, then removed so the rest compares exactly.
	id, _ := ev["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("id: got %q, want 32 hex digits", id)
	}
	ts, _ := ev["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || at.Location() != time.UTC || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("time: got %q, want an RFC 3339 UTC time of the call", ts)
	}
	if tid, ok := ev["trace_id"]; ok { // present when tracing is on
		if s, _ := tid.(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s) {
			t.Errorf("trace_id: got %v, want 32 hex digits", tid)
		}
		delete(ev, "trace_id")
	}
	delete(ev, "id")
	delete(ev, "time")

	want := map[string]any{
		"kind":       "authz",
		"component":  "sidecar/ledger",
		"outcome":    "deny",
		"reason":     "forbidden by bank.mesh.notifications-calls-nothing",
		"policies":   []any{"bank.mesh.notifications-calls-nothing"},
		"request_id": resp.Error.RequestID,
		"source":     "127.0.0.1",
		"caller":     env.ep.Services["notifications"].SPIFFEID,
		"method":     "POST",
		"path":       "/entries",
	}
	if got, wantKeys := slices.Sorted(maps.Keys(ev)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, wantKeys) {
		t.Errorf("fields:\ngot  %q\nwant %q", got, wantKeys)
	}
	for k, w := range want {
		if got := ev[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v, want %v", k, got, w)
		}
	}
}

// TestSVIDIssuanceIsAudited: `up` records every SVID its Workload API mints, one svid event
// with the SPIFFE ID, serial and expiry; the ledger's sidecar got one at start.
func TestSVIDIssuanceIsAudited(t *testing.T) {
	ledger := env.ep.Services["ledger"].SPIFFEID
	events := auditLines(t, `"kind":"svid"`, `"resource":"`+ledger+`"`)
	if len(events) == 0 {
		t.Fatalf("no svid event for %s", ledger)
	}
	for _, ev := range events {
		serial, _ := ev["serial"].(string)
		exp, _ := ev["expires"].(string)
		if ev["outcome"] != "allow" || ev["component"] != "control" || !regexp.MustCompile(`^[0-9a-f]+$`).MatchString(serial) {
			t.Errorf("svid event: %v", ev)
		}
		if at, err := time.Parse(time.RFC3339Nano, exp); err != nil || !at.After(time.Now().Add(-time.Minute)) {
			t.Errorf("svid event expires %q: want the SVID's NotAfter", exp)
		}
	}
}
