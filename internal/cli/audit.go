package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/auditlog"
)

// auditFlags locate the log: --log, or <state-dir>/audit/events.jsonl.
type auditFlags struct {
	stateDir string
	log      string
}

func (f *auditFlags) path() (string, error) {
	if f.log != "" {
		return filepath.Abs(f.log)
	}
	st, err := newState(f.stateDir)
	if err != nil {
		return "", err
	}
	return st.auditLogPath(), nil
}

func newAuditCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check, prove and search the tamper-evident audit log",
		Long: "The audit log is a Merkle tree (RFC 6962) of audit events with Ed25519-signed checkpoints.\n" +
			"Every subcommand prints JSON on stdout and a one-line summary on stderr.",
	}
	cmd.PersistentFlags().StringVar(&f.stateDir, "state-dir", "./.bulwark", "state directory")
	cmd.PersistentFlags().StringVar(&f.log, "log", "", "events file (default <state-dir>/audit/events.jsonl; set it when the config sets audit.path)")
	cmd.AddCommand(newAuditVerifyCmd(&f), newAuditProveCmd(&f), newAuditQueryCmd(&f))
	return cmd
}

func newAuditVerifyCmd(f *auditFlags) *cobra.Command {
	var witness string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole log against its signed checkpoints; exit 1 naming the first bad record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := f.path()
			if err != nil {
				return err
			}
			rep, err := auditlog.Verify(auditlog.VerifyOptions{Path: path, WitnessDir: witness})
			if err != nil {
				return err
			}
			if err := writeJSON(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			if rep.OK {
				fmt.Fprintf(stderr, "audit log OK: %d records, checkpoint of %d verified", rep.Records, rep.Checkpoint.Size)
				if rep.Pending > 0 {
					fmt.Fprintf(stderr, ", %d newer records await the writer's next checkpoint", rep.Pending)
				}
				if rep.Witness != nil {
					fmt.Fprintf(stderr, ", witness at %d agrees", rep.Witness.Size)
				}
				fmt.Fprintln(stderr)
				return nil
			}
			where := ""
			if p := rep.Problem.Position; p != nil {
				where = fmt.Sprintf(" at record %d", *p)
			}
			return &exitError{code: 1, err: fmt.Errorf("audit log verification FAILED%s: %s: %s", where, rep.Problem.Code, rep.Problem.Message)}
		},
	}
	cmd.Flags().StringVar(&witness, "witness", "", "witness directory holding copies of the checkpoints (audit.witness_dir)")
	return cmd
}

func newAuditProveCmd(f *auditFlags) *cobra.Command {
	var event string
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "prove (--event ID | --from N --to M)",
		Short: "Print an inclusion proof for an event, or a consistency proof between two checkpoints",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := f.path()
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			switch {
			case event != "" && !fl.Changed("from") && !fl.Changed("to"):
				p, err := auditlog.ProveInclusion(path, event)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "event %s is record %d of the tree of %d records (%d proof hashes)\n", event, p.Index, p.TreeSize, len(p.Hashes))
				return writeJSON(controlSafeWriter{cmd.OutOrStdout()}, p)
			case event == "" && fl.Changed("from") && fl.Changed("to"):
				p, err := auditlog.ProveConsistency(path, from, to)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "the checkpoint of %d records extends the checkpoint of %d (%d proof hashes)\n", to, from, len(p.Hashes))
				return writeJSON(controlSafeWriter{cmd.OutOrStdout()}, p)
			}
			return &exitError{code: 2, err: errors.New("give either --event ID, or --from N and --to M (checkpoint sizes)")}
		},
	}
	cmd.Flags().StringVar(&event, "event", "", "event id to prove")
	cmd.Flags().Uint64Var(&from, "from", 0, "size of the earlier checkpoint")
	cmd.Flags().Uint64Var(&to, "to", 0, "size of the later checkpoint")
	return cmd
}

func newAuditQueryCmd(f *auditFlags) *cobra.Command {
	var since, until string
	var flt auditlog.Filter
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Print the events that match every filter, one JSON line each, terminal controls escaped (the log is not verified: use verify)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := f.path()
			if err != nil {
				return err
			}
			now := time.Now()
			if flt.Since, err = parseWhen(since, now); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--since: %w", err)}
			}
			if flt.Until, err = parseWhen(until, now); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--until: %w", err)}
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			matched, read, err := auditlog.Query(path, flt, controlSafeWriter{w})
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d events matched\n", matched, read)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only events at or after this time: RFC 3339 (2026-01-02T15:04:05Z) or a duration ago (15m, 2h)")
	fl.StringVar(&until, "until", "", "only events at or before this time (same forms as --since)")
	fl.StringVar(&flt.Kind, "kind", "", "event kind (authz, authn, ratelimit, ...)")
	fl.StringVar(&flt.Component, "component", "", "component (gateway, sidecar/ledger, ...)")
	fl.StringVar(&flt.User, "user", "", "end-user subject")
	fl.StringVar(&flt.Caller, "caller", "", "caller SPIFFE ID")
	fl.StringVar(&flt.Outcome, "outcome", "", "allow, deny or failure (an admin command that failed after its admin event)")
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration before now; "" is no bound.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || strings.HasPrefix(s, "-") {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration ago such as 15m, got %q", s)
	}
	return now.Add(-d), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// auditLogPath is the default events file of the tamper-evident log.
func (s state) auditLogPath() string { return filepath.Join(s.dir, "audit", "events.jsonl") }
