package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// TestKeyRotationInTheAuditLog: with `up` running, `bulwark keys rotate --kek` and
// `rewrap` are audited through the admin spool into the tamper-evident log: `bulwark audit
// query` finds each command's admin event and one key_rotation event per key it changed,
// exactly, all under the command's request id; a `keys retire` the key manager refuses
// leaves its admin event and a failure event; and `bulwark audit verify` passes. (It runs
// after TestKeyRotation, whose output names version numbers: hence the file's name.)
func TestKeyRotationInTheAuditLog(t *testing.T) {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Format(time.RFC3339Nano) // the CLI's clock is this one: its events are later
	rotated := keysJSON(t, "rotate", "--kek")
	rewrapped := keysJSON(t, "rewrap") // every data key, from the old KEK version to the new
	kek := 0
	for _, e := range rotated {
		if e.Key == "kek" {
			kek = e.Version
		}
	}
	if kek == 0 || len(rotated) != 1 || len(rewrapped) == 0 {
		t.Fatalf("rotate --kek printed %+v and rewrap %+v: want the KEK rotated, then data keys rewrapped", rotated, rewrapped)
	}
	_, errOut, code := bw(t, "keys", "retire", "--kek-version", strconv.Itoa(kek), "--state-dir", env.state)
	if code != 1 || !strings.Contains(errOut, "is the primary") {
		t.Fatalf("keys retire of the primary KEK version: exit %d: %s; want refused", code, errOut)
	}

	// The commands spooled their events (`up` holds the log); the control plane appends them.
	var admin, keyEvents []audit.Event
	waitFor(t, "the key commands' events in the audit log", func() bool {
		admin = auditQuery(t, "--kind", "admin", "--component", "cli", "--since", since)
		keyEvents = auditQuery(t, "--kind", "key_rotation", "--component", "cli", "--since", since)
		return len(admin) >= 4 && len(keyEvents) >= len(rotated)+len(rewrapped)
	})
	cmdID := func(i int) string { // the request id of the i-th admin event, checked for form
		if i >= len(admin) || len(admin[i].RequestID) != 32 {
			t.Fatalf("admin events %+v: want four, each with a 32-hex request id", admin)
		}
		return admin[i].RequestID
	}
	rotateID, rewrapID, retireID := cmdID(0), cmdID(1), cmdID(2)
	adminEvent := func(id, reason, resource string) audit.Event {
		return audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u.Username,
			Reason: reason, Resource: resource, RequestID: id}
	}
	retire := adminEvent(retireID, "bulwark keys retire --kek-version --state-dir", fmt.Sprintf("kek version %d", kek))
	failed := retire
	failed.Outcome = audit.Failure
	failed.Reason = retire.Reason + ": failed: the KEK version is the primary (rotate the KEK first)"
	audittest.Equal(t, admin, []audit.Event{
		adminEvent(rotateID, "bulwark keys rotate --json --kek --state-dir", "kek"),
		adminEvent(rewrapID, "bulwark keys rewrap --json --state-dir", "data keys"),
		retire, failed,
	})

	var want []audit.Event
	for _, c := range []struct {
		id     string
		events []envelope.Event
	}{{rotateID, rotated}, {rewrapID, rewrapped}} {
		for _, k := range c.events {
			want = append(want, audit.Event{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow,
				User: u.Username, Resource: k.Key, Reason: keyReason(k), RequestID: c.id})
		}
	}
	if all := append(append([]envelope.Event(nil), rotated...), rewrapped...); len(keyEvents) == len(all) {
		for i, e := range keyEvents {
			if !e.Time.Equal(all[i].Time) {
				t.Errorf("key_rotation event %d: time %v, want the key manager's %v", i, e.Time, all[i].Time)
			}
		}
	}
	audittest.Equal(t, keyEvents, want)

	if out, errOut, code := bw(t, "audit", "verify", "--log", env.ep.AuditLog); code != 0 {
		t.Errorf("bulwark audit verify: exit %d\n%s%s", code, out, errOut)
	}
}

// keysJSON runs `bulwark keys <cmd> --json` and returns the key events it printed.
func keysJSON(t *testing.T, cmd string, flags ...string) []envelope.Event {
	t.Helper()
	out, errOut, code := bw(t, append([]string{"keys", cmd, "--json", "--state-dir", env.state}, flags...)...)
	if code != 0 {
		t.Fatalf("bulwark keys %s: exit %d: %s", cmd, code, errOut)
	}
	var events []envelope.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e envelope.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("keys %s --json: %v: %s", cmd, err, sc.Text())
		}
		events = append(events, e)
	}
	return events
}

// keyReason is the reason of a key_rotation event (README "Audit events").
func keyReason(k envelope.Event) string {
	r := fmt.Sprintf("%s: version %d", k.Action, k.Version)
	if k.KEKVersion != 0 {
		r += fmt.Sprintf(", kek version %d", k.KEKVersion)
	}
	if k.FromKEKVersion != 0 {
		r += fmt.Sprintf(", from kek version %d", k.FromKEKVersion)
	}
	return r
}

// auditQuery runs `bulwark audit query` on the running stack's log and decodes every
// event strictly (audittest.Decode).
func auditQuery(t *testing.T, args ...string) []audit.Event {
	t.Helper()
	out, errOut, code := bw(t, append([]string{"audit", "query", "--log", env.ep.AuditLog}, args...)...)
	if code != 0 {
		t.Fatalf("bulwark audit query %v: exit %d: %s", args, code, errOut)
	}
	var events []audit.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		events = append(events, audittest.Decode(t, sc.Bytes()))
	}
	return events
}
