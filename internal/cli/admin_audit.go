package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/proxy"
)

// adminSpoolDir is where state-changing CLI commands spool their audit events when they
// cannot append to the log themselves; the control plane drains it (adminDrain).
func (s state) adminSpoolDir() string { return filepath.Join(s.dir, "audit", "spool", "cli") }

// adminAudit records the audit events of one state-changing CLI command. A command records
// its admin event before it acts and refuses to act when that fails, so no admin action
// happens unaudited. Where the events go:
//   - the tamper-evident log itself, when the CLI can take its writer lock;
//   - the admin spool (<state>/audit/spool/cli, fsynced) when a running `up` or `control`
//     holds the log, or before the first `up` created it: the control plane appends the
//     spool to the log within a second, or when it next starts.
//
// Any other failure (a log that does not open, a full disk) refuses the command; keys the
// key manager made for it before that still have their events spooled (spoolKeyEvents).
type adminAudit struct {
	rec   audit.Recorder
	close func() error
	user  string
	// requestID links the events of one command: its admin event, what it did (key,
	// secret and svid events) and, when it failed after its admin event, its failure event.
	requestID string
	// command is the admin event recorded, the base of a failure event (Failed).
	command *audit.Event
	// Spooled is true when the events went to the admin spool rather than the log.
	Spooled bool
}

// adminSpoolWait bounds how long the CLI waits for the drain to let go of the spool.
const adminSpoolWait = 5 * time.Second

// openAdminAudit opens the log at logPath for direct appends, or the admin spool. km is the
// state dir's key manager: it wraps the log's checkpoint signing key; legacy is its root's
// file key (rootKeys.legacy), which opens a checkpoint key of earlier versions. emitted
// returns the key events km emitted for the command so far; it is called only when the
// audit does not open, and those events then go to the admin spool (spoolKeyEvents).
func openAdminAudit(ctx context.Context, st state, logPath string, km auditlog.KeyManager, legacy *keys.MasterKey, emitted func() []envelope.Event) (*adminAudit, error) {
	a := &adminAudit{user: osUser(), requestID: proxy.NewRequestID()}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := openAdminLog(logPath, km, legacy, log)
	switch {
	case err != nil:
		return nil, a.spoolKeyEvents(ctx, st, log, emitted(), err)
	case l != nil:
		a.rec, a.close = l, l.Close
		return a, nil
	}
	sp, err := openAdminSpool(st, log)
	if err != nil {
		return nil, withLostKeyEvents(fmt.Errorf("admin commands are audited and %w", err), emitted())
	}
	a.rec, a.close, a.Spooled = sp, sp.Close, true
	return a, nil
}

// openAdminLog opens the log at logPath for direct appends. It returns no log and no error
// when the command is to use the admin spool instead: a running `up` or `control` holds
// the log, or no `up` has created it yet.
func openAdminLog(logPath string, km auditlog.KeyManager, legacy *keys.MasterKey, log *slog.Logger) (*auditlog.Log, error) {
	v, err := auditlog.LoadVerifier(filepath.Join(filepath.Dir(logPath), "checkpoint-signer.pub"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("admin commands are audited and the audit log's key does not load: %w", err)
	}
	l, err := auditlog.Open(auditlog.Options{Path: logPath, Origin: v.Name(), Keys: km, MasterKey: legacy, Log: log})
	switch {
	case errors.Is(err, auditlog.ErrLocked):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("admin commands are audited and the audit log does not open: %w", err)
	}
	return l, nil
}

// openAdminSpool opens the admin spool, waiting up to adminSpoolWait for the drain or
// another command to let go of it.
func openAdminSpool(st state, log *slog.Logger) (*spool.Spool, error) {
	deadline := time.Now().Add(adminSpoolWait)
	for {
		sp, err := spool.Open(spool.Options{Dir: st.adminSpoolDir(), Log: log})
		if err == nil {
			return sp, nil
		}
		if !errors.Is(err, spool.ErrLocked) || time.Now().After(deadline) {
			return nil, fmt.Errorf("the admin audit spool does not open: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (a *adminAudit) Close() error { return a.close() }

// Command records the admin event of cmd before it acts. resource names what it acts on
// ("kek", "data/accounts/pii"); pathHMAC stands for a secret path. The event holds the
// command and the names of the flags given, never their values.
func (a *adminAudit) Command(ctx context.Context, cmd *cobra.Command, resource, pathHMAC string) error {
	e := audit.Event{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: a.user,
		Reason: commandLine(cmd), Resource: resource, PathHMAC: pathHMAC}
	if err := a.Record(ctx, e); err != nil {
		return fmt.Errorf("audit (nothing was changed): %w", err)
	}
	a.command = &e
	return nil
}

// Record records one event of the command, with the command's request id.
func (a *adminAudit) Record(ctx context.Context, e audit.Event) error {
	e.RequestID = a.requestID
	return a.rec.Record(ctx, e)
}

// KeyEvents records the key manager's events of a command that acted.
func (a *adminAudit) KeyEvents(ctx context.Context, events []envelope.Event) error {
	for _, k := range events {
		if err := a.Record(ctx, keyRotationEvent(k, "cli", a.user)); err != nil {
			return fmt.Errorf("audit key event (the change was made; its admin event is recorded): %w", err)
		}
	}
	return nil
}

// keyRotationEvent is the audit event of a key manager event, recorded by component: "cli"
// (user is the operator) or "control" (keys the control plane creates on first use or
// rotates; no user).
func keyRotationEvent(k envelope.Event, component, user string) audit.Event {
	return audit.Event{Time: k.Time, Kind: audit.KindKeyRotation, Component: component, Outcome: audit.Allow,
		User: user, Resource: k.Key, Reason: keyEventReason(k)}
}

// keyEventReason is the action and the versions of a key event.
func keyEventReason(k envelope.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: version %d", k.Action, k.Version)
	if k.KEKVersion != 0 {
		fmt.Fprintf(&b, ", kek version %d", k.KEKVersion)
	}
	if k.FromKEKVersion != 0 {
		fmt.Fprintf(&b, ", from kek version %d", k.FromKEKVersion)
	}
	return b.String()
}

// commandLine is "bulwark keys rotate --kek --state-dir": the command and the flags given,
// sorted, without values (a value could be a path naming a secret).
func commandLine(cmd *cobra.Command) string {
	var names []string
	cmd.Flags().Visit(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
	sort.Strings(names)
	return strings.Join(append([]string{cmd.CommandPath()}, names...), " ")
}

// osUser names the operator: the OS user name, or uid:N when the user database has none.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid:%d", os.Getuid())
}

// keysAdmin is an audited CLI command that opens the state dir's keys (`bulwark keys`,
// `bulwark svid`, `bulwark secrets put`): the key manager with its events captured
// (including keys it creates on open or on first use, or when opening the audit log
// migrates its key), the master key (which opens key files of earlier versions), and the
// admin audit that records them.
type keysAdmin struct {
	*adminAudit
	mk     *keys.MasterKey
	mu     sync.Mutex
	events []envelope.Event
}

// startKeysAdmin opens the key manager and the admin audit, and records cmd's admin event;
// the command acts only when it returns no error.
func startKeysAdmin(cmd *cobra.Command, sf *stateFlags, resource string) (*envelope.Manager, *keysAdmin, error) {
	st, kc, err := sf.load(cmd)
	if err != nil {
		return nil, nil, err
	}
	m, ka, err := openKeysAdmin(cmd.Context(), st, kc, st.auditLogPath())
	if err != nil {
		return nil, nil, err
	}
	if err := ka.Command(cmd.Context(), cmd, resource, ""); err != nil {
		return nil, nil, ka.abandon(cmd.Context(), err)
	}
	return m, ka, nil
}

// abandon ends a command refused because its admin event could not be recorded (err). It
// does not act, but keys its key manager made on opening (the first KEK) exist: their
// events are recorded if the audit still takes them, else named in the error, which
// otherwise would say that nothing changed. It closes the audit.
func (ka *keysAdmin) abandon(ctx context.Context, err error) error {
	if events := ka.keyEvents(); len(events) > 0 && ka.KeyEvents(ctx, events) != nil {
		err = withLostKeyEvents(err, events)
	}
	if cerr := ka.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}

// openKeysAdmin opens st's key manager, capturing its events, and the admin audit of the
// log at logPath. The command then records its admin event (Command) before it acts, and
// ends with finish, which records the key events it caused.
func openKeysAdmin(ctx context.Context, st state, kc config.Keys, logPath string) (*envelope.Manager, *keysAdmin, error) {
	ka := &keysAdmin{}
	m, rk, err := openKeyManager(ctx, st, kc, envelope.Options{OnEvent: func(e envelope.Event) {
		ka.mu.Lock()
		ka.events = append(ka.events, e)
		ka.mu.Unlock()
	}})
	if err != nil {
		return nil, nil, err
	}
	ka.mk = rk.legacy
	if ka.adminAudit, err = openAdminAudit(ctx, st, logPath, m, rk.legacy, ka.keyEvents); err != nil {
		return nil, nil, err
	}
	return m, ka, nil
}

// keyEvents returns the key manager's events captured so far.
func (ka *keysAdmin) keyEvents() []envelope.Event {
	ka.mu.Lock()
	defer ka.mu.Unlock()
	return ka.events
}

// finish records the key events the command caused (some, when it failed half-way, or
// before its admin event), then its failure event if actErr is set, and closes the audit.
// actErr is the command's own error, which comes first; an audit error is joined to it,
// so that an operator learns the trail is incomplete.
func (ka *keysAdmin) finish(ctx context.Context, actErr error) error {
	err := ka.KeyEvents(ctx, ka.keyEvents())
	if actErr != nil {
		err = errors.Join(err, ka.Failed(ctx, actErr))
	}
	if cerr := ka.Close(); err == nil {
		err = cerr
	}
	if actErr != nil && err != nil {
		return errors.Join(actErr, err)
	}
	if actErr != nil {
		return actErr
	}
	return err
}
