package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/audittest"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

// newAdminState is a state dir with a master key (as after `bulwark up`) and no audit log.
func newAdminState(t *testing.T) (state, *keys.MasterKey) {
	t.Helper()
	t.Setenv(keys.EnvMasterKeyFile, "")
	st, err := newState(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mk, _, err := keys.LoadOrCreateMasterKey(st.masterKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return st, mk
}

func openTestLog(t *testing.T, st state, mk *keys.MasterKey) *auditlog.Log {
	t.Helper()
	l, err := auditlog.Open(auditlog.Options{Path: st.auditLogPath(), Origin: "bank.local/audit", Keys: testStateKeys(t, st, mk), MasterKey: mk,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// spooled reads the admin spool's unacknowledged events.
func spooled(t *testing.T, st state) []audit.Event {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: st.adminSpoolDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	b, err := sp.Peek(1000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, r := range b.Records {
		var e audit.Event // not strict: tests put records that are not events in the spool
		if err := json.Unmarshal(r, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// logged reads the events file of the log.
func logged(t *testing.T, st state) []audit.Event {
	t.Helper()
	return audittest.Read(t, st.auditLogPath())
}

// exact checks every field of got against want (audittest.Equal: ids and times only for
// form). A command's request id is random, so each one is first replaced by "cmd1",
// "cmd2", … in order of appearance: want then shows which events one command recorded.
func exact(t *testing.T, got, want []audit.Event) {
	t.Helper()
	labels := map[string]string{}
	for i, e := range got {
		if e.RequestID == "" {
			continue
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(e.RequestID) {
			t.Errorf("event %d: request_id %q, want 32 hex digits", i, e.RequestID)
		}
		if _, ok := labels[e.RequestID]; !ok {
			labels[e.RequestID] = fmt.Sprintf("cmd%d", len(labels)+1)
		}
		got[i].RequestID = labels[e.RequestID]
	}
	audittest.Equal(t, got, want)
}

// TestKeysRotateAuditedToLog: with the log free (no `up` running), `keys rotate` appends
// the admin event (before it acts) and the key events to the log itself, which verifies.
func TestKeysRotateAuditedToLog(t *testing.T) {
	st, mk := newAdminState(t)
	openTestLog(t, st, mk).Close() // makes kek v1: the key manager wraps the log's key
	if out, code := runKeys(t, "rotate", "--kek", "--state-dir", st.dir); code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, out)
	}
	u := osUser()
	exact(t, logged(t, st), []audit.Event{
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys rotate --kek --state-dir", Resource: "kek", RequestID: "cmd1"},
		{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "kek", Reason: "rotate: version 2", RequestID: "cmd1"},
	})
	rep, err := auditlog.Verify(auditlog.VerifyOptions{Path: st.auditLogPath()})
	if err != nil || !rep.OK {
		t.Fatalf("verify after the CLI appended: %+v, %v", rep, err)
	}
	if _, err := os.Stat(st.adminSpoolDir()); !os.IsNotExist(err) {
		t.Errorf("the admin spool was created although the log was free: %v", err)
	}
}

// TestKeysAuditedThroughSpool: while a running control plane holds the log, `keys rotate`,
// `rewrap` and `retire` spool their events, and the control plane's drain appends them
// to the log, exactly once, leaving the spool empty.
func TestKeysAuditedThroughSpool(t *testing.T) {
	st, mk := newAdminState(t)
	runKeys(t, "list", "--state-dir", st.dir) // creates kek v1 unaudited: list does not change state
	held := openTestLog(t, st, mk)
	defer held.Close()
	for _, args := range [][]string{{"rotate", "--kek"}, {"rewrap"}, {"retire", "--kek-version", "1"}} {
		if out, code := runKeys(t, append(args, "--state-dir", st.dir)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, out)
		}
	}
	u := osUser()
	want := []audit.Event{
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys rotate --kek --state-dir", Resource: "kek", RequestID: "cmd1"},
		{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "kek", Reason: "rotate: version 2", RequestID: "cmd1"},
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys rewrap --state-dir", Resource: "data keys", RequestID: "cmd2"},
		{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "data/control/audit-checkpoint", Reason: "rewrap: version 1, kek version 2, from kek version 1", RequestID: "cmd2"}, // the log's key
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys retire --kek-version --state-dir", Resource: "kek version 1", RequestID: "cmd3"},
		{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "kek", Reason: "retire: version 1", RequestID: "cmd3"},
	}
	exact(t, spooled(t, st), want)

	d := &adminDrain{dir: st.adminSpoolDir(), rec: held, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if n, err := d.drain(context.Background()); n != len(want) || err != nil {
		t.Fatalf("drain: %d, %v; want %d", n, err, len(want))
	}
	if n, err := d.drain(context.Background()); n != 0 || err != nil {
		t.Fatalf("second drain: %d, %v; want nothing left", n, err)
	}
	held.Close()
	exact(t, logged(t, st), want)
	if got := spooled(t, st); len(got) != 0 {
		t.Errorf("spool after the drain: %+v", got)
	}
}

// TestAdminAuditRefusesUnaudited: when the log exists but does not open (its verifier key
// is damaged), the command refuses before acting: the keys are unchanged.
func TestAdminAuditRefusesUnaudited(t *testing.T) {
	st, mk := newAdminState(t)
	openTestLog(t, st, mk).Close()
	if err := os.WriteFile(filepath.Join(filepath.Dir(st.auditLogPath()), "checkpoint-signer.pub"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runKeys(t, "rotate", "--kek", "--state-dir", st.dir)
	if code == 0 || !strings.Contains(out, "admin commands are audited") {
		t.Fatalf("rotate with a broken audit log: exit %d: %s", code, out)
	}
	list, _ := runKeys(t, "list", "--json", "--state-dir", st.dir)
	if strings.Contains(list, `"version": 2`) {
		t.Errorf("the key was rotated although its audit failed:\n%s", list)
	}
}

// TestAdminDrainRefusesForeignRecords: a record in the admin spool that is not a CLI event
// (here one claiming to be the gateway's) is not appended as given; a deny event says so.
func TestAdminDrainRefusesForeignRecords(t *testing.T) {
	st, mk := newAdminState(t)
	sp, err := spool.Open(spool.Options{Dir: st.adminSpoolDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	forged := audit.Event{ID: "0123456789abcdef0123456789abcdef", Time: time.Now().UTC(), Kind: audit.KindAuthz, Component: "gateway", Outcome: audit.Allow}
	b, _ := json.Marshal(forged)
	if err := sp.Append(b, []byte(`{"not":"an event"}`)); err != nil {
		t.Fatal(err)
	}
	sp.Close()
	l := openTestLog(t, st, mk)
	d := &adminDrain{dir: st.adminSpoolDir(), rec: l, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if n, err := d.drain(context.Background()); n != 2 || err != nil {
		t.Fatalf("drain: %d, %v", n, err)
	}
	l.Close()
	deny := audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Deny, Reason: "admin audit spool: a record that is not a CLI audit event was dropped"}
	exact(t, logged(t, st), []audit.Event{deny, deny})
}

// TestAdminFailureFollowsTheAdminEvent: `keys retire` of the primary KEK version is refused
// by the key manager after its admin event was recorded; a failure event with the same
// request id follows it, so the log does not read as if the version was retired.
func TestAdminFailureFollowsTheAdminEvent(t *testing.T) {
	st, mk := newAdminState(t)
	openTestLog(t, st, mk).Close()
	if out, code := runKeys(t, "rotate", "--kek", "--state-dir", st.dir); code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, out)
	}
	out, code := runKeys(t, "retire", "--kek-version", "2", "--state-dir", st.dir)
	if code != 1 || !strings.Contains(out, "is the primary") {
		t.Fatalf("retire the primary: exit %d: %s; want the key manager's refusal", code, out)
	}
	u := osUser()
	retire := audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u,
		Reason: "bulwark keys retire --kek-version --state-dir", Resource: "kek version 2", RequestID: "cmd2"}
	failed := retire
	failed.Outcome = audit.Failure
	failed.Reason = retire.Reason + ": failed: the KEK version is the primary (rotate the KEK first)"
	exact(t, logged(t, st), []audit.Event{
		{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys rotate --kek --state-dir", Resource: "kek", RequestID: "cmd1"},
		{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "kek", Reason: "rotate: version 2", RequestID: "cmd1"},
		retire, failed,
	})
	if rep, err := auditlog.Verify(auditlog.VerifyOptions{Path: st.auditLogPath()}); err != nil || !rep.OK {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// TestFailureCauseQuotesNoError: the cause in a failure event comes from a fixed list;
// whatever the error's text holds (here a secret path) stays out.
func TestFailureCauseQuotesNoError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("secret ops/db-root: %w", secrets.ErrCASMismatch), "check-and-set version does not match the current version"},
		{fmt.Errorf("put ops/db-root: %w", context.Canceled), "interrupted"},
		{fmt.Errorf("open /state/secrets/ops/db-root: %w", fs.ErrPermission), "permission denied"},
		{fmt.Errorf("%w: vault transit https://vault:8200: server unreachable: ops/db-root", envelope.ErrMasterUnavailable), "the master key is unavailable"},
		{fmt.Errorf("data key ops/db-root: %w", envelope.ErrUnwrap), "a wrapped key does not open"},
		{fmt.Errorf("%w db-root/pii (data keys are made on first use)", envelope.ErrNoDataKey), "no such data key (data keys are made on first use)"},
		{fmt.Errorf(`envelope: service "db-root": %w`, envelope.ErrInvalidName), "invalid service or purpose name"},
		{fmt.Errorf("%w 7", envelope.ErrNoKEKVersion), "no such KEK version"},
		{fmt.Errorf("envelope: KEK version 2 %w; rotate the KEK first", envelope.ErrKEKPrimary), "the KEK version is the primary (rotate the KEK first)"},
		{fmt.Errorf("envelope: KEK version 1 %w", envelope.ErrKEKRetired), "the KEK version is already retired"},
		{fmt.Errorf("envelope: KEK version 1 %w 1 data keys ([db-root/pii]); run rewrap first", envelope.ErrKEKInUse), "the KEK version still wraps data keys (run rewrap first)"},
		// The master key unreachable because the command was interrupted: the interruption wins.
		{fmt.Errorf("%w: vault transit: %w", envelope.ErrMasterUnavailable, context.Canceled), "interrupted"},
		{errors.New("vault: write ops/db-root: 500"), "error (printed by the command, not recorded: it could name a secret)"},
	} {
		if got := failureCause(c.err); got != c.want || strings.Contains(got, "db-root") {
			t.Errorf("failureCause(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// failingRecorder refuses every event, as a full disk would.
type failingRecorder struct{}

func (failingRecorder) Record(context.Context, audit.Event) error { return errors.New("disk full") }

// TestFinishReportsUnrecordedFailure: when a command fails after its admin event and its
// failure event cannot be recorded, the command's error comes first and the audit error
// is joined to it: the operator learns that the trail does not say it failed.
func TestFinishReportsUnrecordedFailure(t *testing.T) {
	ka := &keysAdmin{adminAudit: &adminAudit{rec: failingRecorder{}, close: func() error { return nil },
		command: &audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, Reason: "bulwark secrets put"}}}
	err := ka.finish(context.Background(), fmt.Errorf("put: %w", secrets.ErrCASMismatch))
	if !errors.Is(err, secrets.ErrCASMismatch) || !strings.Contains(err.Error(), "audit the command's failure") || !strings.HasPrefix(err.Error(), "put: ") {
		t.Fatalf("finish: got %v, want the command's error, then the audit's", err)
	}
}
