package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"maps"
	"net/http"
	"os/user"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/identity"
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

// TestSVIDIssuanceIsAudited: every SVID minted is one svid event, asserted whole: the SVID
// the ledger's sidecar presents right now (minted by up's Workload API), and one that
// `bulwark svid` mints, which also has its admin event under the same request id.
func TestSVIDIssuanceIsAudited(t *testing.T) {
	payments, bundle := svidFor(t, "payments") // minted by `bulwark svid`
	ledger := env.ep.Services["ledger"].SPIFFEID
	conn, err := tls.Dial("tcp", env.ep.Services["ledger"].MTLSAddr, identity.ClientTLS(payments, bundle, spiffeid.RequireFromString(ledger)))
	if err != nil {
		t.Fatalf("mTLS handshake with the ledger's sidecar: %v", err)
	}
	presented := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	minted := payments.Certificates[0]

	bySerial := map[string]audit.Event{}
	waitFor(t, "the svid events of both SVIDs in the audit log", func() bool {
		for _, e := range auditQuery(t, "--kind", "svid") {
			bySerial[e.Serial] = e
		}
		_, a := bySerial[presented.SerialNumber.Text(16)]
		_, b := bySerial[minted.SerialNumber.Text(16)]
		return a && b
	})
	svidEvent := func(component, user string, leaf *x509.Certificate, rid string) audit.Event {
		exp := leaf.NotAfter.UTC()
		return audit.Event{Kind: audit.KindSVID, Component: component, Outcome: audit.Allow, Reason: "x509-svid issued", User: user,
			Resource: leaf.URIs[0].String(), Serial: leaf.SerialNumber.Text(16), Expires: &exp, RequestID: rid}
	}
	audittest.Equal(t, []audit.Event{bySerial[presented.SerialNumber.Text(16)]}, []audit.Event{svidEvent("control", "", presented, "")})

	cli := bySerial[minted.SerialNumber.Text(16)]
	var admin []audit.Event
	for _, e := range auditQuery(t, "--kind", "admin", "--component", "cli") {
		if e.RequestID != "" && e.RequestID == cli.RequestID {
			admin = append(admin, e)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if len(cli.RequestID) != 32 {
		t.Errorf("svid event of `bulwark svid`: request_id %q, want 32 hex digits", cli.RequestID)
	}
	audittest.Equal(t, append(admin, cli), []audit.Event{
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u.Username, Reason: "bulwark svid --out --service --state-dir",
			Resource: env.ep.Services["payments"].SPIFFEID, RequestID: cli.RequestID},
		svidEvent("cli", u.Username, minted, cli.RequestID),
	})
}
