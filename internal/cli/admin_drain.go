package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/collect"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
	"github.com/bulwark-security/bulwark/internal/auditlog"
)

// adminDrainInterval is how often the control plane looks at the admin spool.
const adminDrainInterval = time.Second

// adminDrain appends the events that CLI commands spooled (adminAudit) to the control
// plane's audit log. It opens the spool only for the moment of a drain, so that a CLI
// command can take it in between; a spool held by a CLI command is looked at on the next
// tick. Events keep their ids: a drain cut short between append and acknowledgement
// (a crash) appends them again on the next one, and rec skips those already in the log.
// rec is therefore a collector (internal/audit/collect), whose id index is rebuilt from
// the log at start: `bulwark control`'s own, or under `up` one over the log
// (newUpAdminDrain). So each spooled event is in the log once.
type adminDrain struct {
	dir string
	rec audit.Recorder
	log *slog.Logger
}

// newUpAdminDrain is the drain of `bulwark up`, whose roles append to the log l directly:
// the drain alone appends through a collector over l, which de-duplicates by event id.
// Only its events can repeat, so the others need not go through the index.
func newUpAdminDrain(st state, l *auditlog.Log, log *slog.Logger) (*adminDrain, error) {
	c, err := collect.New(collect.Options{Log: l, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("admin audit drain: %w", err)
	}
	return &adminDrain{dir: st.adminSpoolDir(), rec: c, log: log}, nil
}

// Run drains at start (events spooled before the first `up`) and then every second.
func (d *adminDrain) Run(ctx context.Context) error {
	t := time.NewTicker(adminDrainInterval)
	defer t.Stop()
	for {
		if n, err := d.drain(ctx); err != nil {
			d.log.Error("admin audit spool: drain failed; retrying", "dir", d.dir, "error", err.Error())
		} else if n > 0 {
			d.log.Info("admin audit spool: events appended to the audit log", "events", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// drain appends every spooled event and acknowledges it; it returns how many.
func (d *adminDrain) drain(ctx context.Context) (int, error) {
	if _, err := os.Stat(d.dir); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	sp, err := spool.Open(spool.Options{Dir: d.dir, Log: d.log})
	if errors.Is(err, spool.ErrLocked) {
		return 0, nil // a CLI command is writing: next tick
	}
	if err != nil {
		return 0, err
	}
	defer sp.Close()
	n := 0
	for {
		b, err := sp.Peek(100, 1<<20)
		if err != nil || len(b.Records) == 0 {
			return n, err
		}
		for _, r := range b.Records {
			if err := d.rec.Record(ctx, adminSpoolEvent(r)); err != nil {
				return n, err
			}
			n++
		}
		if err := sp.Ack(b); err != nil {
			return n, err
		}
	}
}

// adminSpoolEvent decodes a spooled record. Only CLI admin, key, secret and svid events, and
// the control plane's key events of a failed start, belong in the spool (a 0700 directory
// of the state dir); anything else is not appended as given
// but replaced by a deny event saying so, so that it is neither lost silently nor able to
// pass itself off as another role's event. The deny event's id is derived from the record,
// so that draining the record again after a crash does not record it twice either.
func adminSpoolEvent(r []byte) audit.Event {
	var e audit.Event
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.DisallowUnknownFields()
	err := dec.Decode(&e)
	if err == nil {
		err = checkAdminSpoolEvent(e)
	}
	if err != nil {
		// The reason names no part of the record: it could hold anything.
		sum := sha256.Sum256(r)
		return audit.Event{ID: hex.EncodeToString(sum[:16]), Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Deny,
			Reason: "admin audit spool: a record that is not a CLI audit event was dropped"}
	}
	return e
}

func checkAdminSpoolEvent(e audit.Event) error {
	switch {
	case e.ID == "" || e.Time.IsZero():
		return errors.New("no id or time")
	case e.Reporter != "":
		return errors.New("reporter is set")
	case e.Component == "control" && e.Kind == audit.KindKeyRotation:
		// A control-plane start that failed before its log took them (spillHeldKeyEvents).
	case e.Component != "cli":
		return errors.New("component is not cli")
	case e.Kind != audit.KindAdmin && e.Kind != audit.KindKeyRotation && e.Kind != audit.KindSecret && e.Kind != audit.KindSVID:
		return errors.New("not a kind the CLI records")
	}
	return nil
}
