package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/audit/spool"
)

// crashBeforeAck records through rec and fails once `left` events are recorded: the drain
// stops after appending them and before acknowledging them, as a crash there would.
type crashBeforeAck struct {
	rec  audit.Recorder
	left int
}

func (c *crashBeforeAck) Record(ctx context.Context, e audit.Event) error {
	if err := c.rec.Record(ctx, e); err != nil {
		return err
	}
	if c.left--; c.left == 0 {
		return errors.New("crash between append and acknowledgement")
	}
	return nil
}

// TestAdminDrainIdempotent: under `up`, a drain that appended the spooled events and died
// before acknowledging them leaves them in the spool; the next drain (after a restart, or
// the retry of the same one) appends none of them again. Each event, the deny event of a
// foreign record included, is in the log once.
func TestAdminDrainIdempotent(t *testing.T) {
	for _, restart := range []bool{true, false} {
		name := map[bool]string{true: "restart", false: "retry"}[restart]
		t.Run(name, func(t *testing.T) {
			st, mk := newAdminState(t)
			held := openTestLog(t, st, mk) // a running `up` holds the log (and made kek v1): the CLI spools
			defer held.Close()
			if out, code := runKeys(t, "rotate", "--kek", "--state-dir", st.dir); code != 0 {
				t.Fatalf("rotate: exit %d: %s", code, out)
			}
			sp, err := spool.Open(spool.Options{Dir: st.adminSpoolDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := sp.Append([]byte(`{"not":"an event"}`)); err != nil {
				t.Fatal(err)
			}
			sp.Close()
			const spooledEvents = 3

			discard := slog.New(slog.NewTextHandler(io.Discard, nil))
			first, err := newUpAdminDrain(st, held, discard)
			if err != nil {
				t.Fatal(err)
			}
			rec := first.rec
			first.rec = &crashBeforeAck{rec: rec, left: spooledEvents}
			if _, err := first.drain(context.Background()); err == nil {
				t.Fatal("the crashing drain returned no error")
			}
			if got := len(spooled(t, st)); got != spooledEvents {
				t.Fatalf("spool after the crash: %d events, want all %d unacknowledged", got, spooledEvents)
			}
			again := &adminDrain{dir: first.dir, rec: rec, log: discard}
			if restart {
				if again, err = newUpAdminDrain(st, held, discard); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := again.drain(context.Background()); n != spooledEvents || err != nil {
				t.Fatalf("drain after the crash: %d, %v; want %d", n, err, spooledEvents)
			}
			if got := spooled(t, st); len(got) != 0 {
				t.Errorf("spool after the second drain: %+v", got)
			}
			held.Close()
			got := logged(t, st)
			ids := map[string]bool{}
			for _, e := range got {
				if ids[e.ID] {
					t.Errorf("event %s is in the log twice", e.ID)
				}
				ids[e.ID] = true
			}
			u := osUser()
			exact(t, got, []audit.Event{
				{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, User: u, Reason: "bulwark keys rotate --kek --state-dir", Resource: "kek", RequestID: "cmd1"},
				{Kind: audit.KindKeyRotation, Component: "cli", Outcome: audit.Allow, User: u, Resource: "kek", Reason: "rotate: version 2", RequestID: "cmd1"},
				{Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Deny, Reason: "admin audit spool: a record that is not a CLI audit event was dropped"},
			})
		})
	}
}
