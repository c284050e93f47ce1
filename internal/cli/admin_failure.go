package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

// Failed records that the command whose admin event was recorded failed afterwards, so
// that the log does not read as if the action happened: the same event (kind admin,
// resource, path_hmac, request_id) with outcome failure and a reason "<command>: failed:
// <cause>". The cause comes from a fixed list (failureCause), never the error's text,
// which can name a secret path or quote input. It is recorded even when ctx is done (an
// interrupted command is a failure too). Without a recorded admin event it does nothing.
func (a *adminAudit) Failed(ctx context.Context, actErr error) error {
	if a.command == nil || actErr == nil {
		return nil
	}
	e := *a.command
	e.Outcome = audit.Failure
	e.Reason = a.command.Reason + ": failed: " + failureCause(actErr)
	if err := a.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit the command's failure: %w", err)
	}
	return nil
}

// failureCauses are the causes a failure event may name, most specific first.
var failureCauses = []struct {
	err   error
	cause string
}{
	{context.Canceled, "interrupted"},
	{context.DeadlineExceeded, "timed out"},
	{secrets.ErrCASMismatch, "check-and-set version does not match the current version"},
	{secrets.ErrNotFound, "secret not found"},
	{secrets.ErrInvalid, "invalid secret request"},
	{envelope.ErrMasterUnavailable, "the master key is unavailable"},
	{envelope.ErrUnwrap, "a wrapped key does not open"},
	{envelope.ErrNoDataKey, "no such data key (data keys are made on first use)"},
	{envelope.ErrInvalidName, "invalid service or purpose name"},
	{envelope.ErrNoKEKVersion, "no such KEK version"},
	{envelope.ErrKEKPrimary, "the KEK version is the primary (rotate the KEK first)"},
	{envelope.ErrKEKRetired, "the KEK version is already retired"},
	{envelope.ErrKEKInUse, "the KEK version still wraps data keys (run rewrap first)"},
	{fs.ErrPermission, "permission denied"},
	{fs.ErrNotExist, "a file does not exist"},
}

// failureCause names what made a command fail without quoting its error.
func failureCause(err error) string {
	for _, c := range failureCauses {
		if errors.Is(err, c.err) {
			return c.cause
		}
	}
	return "error (printed by the command, not recorded: it could name a secret)"
}
