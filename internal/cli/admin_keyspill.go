package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// spoolKeyEvents handles an admin audit whose log does not open (logErr) after the key
// manager made or changed keys for the command (events: opening it can create the first
// KEK, opening the log can migrate its key). The command does not act, but those keys
// exist, so their events go to the admin spool as KeyEvents would record them (component
// cli, the operator, the command's request id); the control plane appends the spool to
// the log once the log opens again. It returns logErr, joined with the events that were
// not recorded when the spool fails too. Without events the spool is not touched.
func (a *adminAudit) spoolKeyEvents(ctx context.Context, st state, log *slog.Logger, events []envelope.Event, logErr error) error {
	if len(events) == 0 {
		return logErr
	}
	sp, err := openAdminSpool(st, log)
	if err != nil {
		return withLostKeyEvents(errors.Join(logErr, err), events)
	}
	a.rec = sp
	ctx = context.WithoutCancel(ctx) // the keys exist whether or not the command was interrupted
	for i, e := range events {
		if err := a.Record(ctx, keyRotationEvent(e, "cli", a.user)); err != nil {
			sp.Close()
			return withLostKeyEvents(errors.Join(logErr, fmt.Errorf("the admin audit spool: %w", err)), events[i:])
		}
	}
	if err := sp.Close(); err != nil {
		return errors.Join(logErr, fmt.Errorf("the admin audit spool (it holds the command's key events): %w", err))
	}
	return logErr
}

// withLostKeyEvents joins to err, the error of an admin audit that did not open, the key
// events (events) that are therefore in no audit trail: it names each key and what was
// done to it, never key material.
func withLostKeyEvents(err error, events []envelope.Event) error {
	if len(events) == 0 {
		return err
	}
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = fmt.Sprintf("%s (%s)", e.Key, keyEventReason(e))
	}
	return errors.Join(err, fmt.Errorf("%d key events could not be audited: %s (the keys were made all the same: `bulwark keys list` shows them)",
		len(events), strings.Join(names, ", ")))
}
