package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

func (s state) keysDir() string { return filepath.Join(s.dir, "keys") }

// newKeysCmd is `bulwark keys`: the key manager's versions, rotation, rewrap and retirement.
// It works on the state directory's files and may run while `bulwark up` does: writers take
// the key directory's lock, and a running process picks rotated keys up by itself.
func newKeysCmd() *cobra.Command {
	var sf stateFlags
	var asJSON bool
	cmd := &cobra.Command{Use: "keys", Short: "List, rotate, rewrap and retire encryption keys (never shows key material)"}
	sf.register(cmd, true, "state directory")
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON: the key list, or one audit event per line")

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Show every key's versions, which one is primary, and which KEK version wraps each data key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, kc, err := sf.load(cmd)
			if err != nil {
				return err
			}
			rk, err := openRootKeys(cmd.Context(), kc, st, false, io.Discard)
			if err != nil {
				return err
			}
			// Listing must not create the first KEK (Open would, unaudited).
			if ok, err := envelope.Exists(st.keysDir()); err != nil {
				return err
			} else if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "no keys in %s yet: the first `bulwark up` or `bulwark control` makes them\n", st.keysDir())
				return nil
			}
			m, err := envelope.Open(cmd.Context(), st.keysDir(), rk.master, envelope.Options{})
			if err != nil {
				return err
			}
			list, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			printKeyList(cmd.OutOrStdout(), list)
			return nil
		},
	})

	var kek bool
	var service, purpose string
	rotate := &cobra.Command{
		Use:   "rotate [--kek | --service NAME --purpose P]",
		Short: "Add a new primary version (all keys when no flag is given); old data keeps decrypting",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kek && (service != "" || purpose != "") || (service == "") != (purpose == "") {
				return &exitError{code: 2, err: errors.New("use --kek, or --service with --purpose, or neither (rotate every key)")}
			}
			resource := "all keys"
			switch {
			case kek:
				resource = "kek"
			case service != "":
				resource = "data/" + service + "/" + purpose
			}
			m, ka, err := startKeysAdmin(cmd, &sf, resource) // audited before it acts (admin_audit.go)
			if err != nil {
				return err
			}
			var events []envelope.Event
			switch {
			case kek:
				var e envelope.Event
				if e, err = m.RotateKEK(cmd.Context()); err == nil {
					events = []envelope.Event{e}
				}
			case service != "":
				var e envelope.Event
				if e, err = m.RotateDataKey(cmd.Context(), service, purpose); err == nil {
					events = []envelope.Event{e}
				}
			default:
				events, err = m.RotateAll(cmd.Context())
			}
			if err = ka.finish(cmd.Context(), err); err != nil {
				return err
			}
			return printEvents(cmd.OutOrStdout(), events, asJSON)
		},
	}
	rotate.Flags().BoolVar(&kek, "kek", false, "rotate the key-encryption key only")
	rotate.Flags().StringVar(&service, "service", "", "rotate this service's data key (with --purpose)")
	rotate.Flags().StringVar(&purpose, "purpose", "", "the data key's purpose (with --service)")
	cmd.AddCommand(rotate)

	cmd.AddCommand(&cobra.Command{
		Use:   "rewrap",
		Short: "Re-wrap every data key under the primary KEK version, one file at a time (safe to interrupt and rerun)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ka, err := startKeysAdmin(cmd, &sf, "data keys")
			if err != nil {
				return err
			}
			events, err := m.Rewrap(cmd.Context())
			err = ka.finish(cmd.Context(), err)
			if perr := printEvents(cmd.OutOrStdout(), events, asJSON); err == nil {
				err = perr
			}
			if err == nil && len(events) == 0 && !asJSON {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to rewrap: every data key is wrapped by the primary KEK version")
			}
			return err
		},
	})

	var version int
	retire := &cobra.Command{
		Use:   "retire --kek-version N",
		Short: "Disable an old KEK version; refused while it still wraps a data key (run rewrap first)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, ka, err := startKeysAdmin(cmd, &sf, fmt.Sprintf("kek version %d", version))
			if err != nil {
				return err
			}
			e, err := m.RetireKEK(cmd.Context(), version)
			if err = ka.finish(cmd.Context(), err); err != nil {
				return err
			}
			return printEvents(cmd.OutOrStdout(), []envelope.Event{e}, asJSON)
		},
	}
	retire.Flags().IntVar(&version, "kek-version", 0, "the KEK version to retire")
	_ = retire.MarkFlagRequired("kek-version")
	cmd.AddCommand(retire)
	return cmd
}

// openKeyManager opens the state dir's keys under the master key kc names (openRootKeys).
// Unlike `up` it never creates a master key file: a new one could not open the keys that
// are there.
func openKeyManager(ctx context.Context, st state, kc config.Keys, opts envelope.Options) (*envelope.Manager, *rootKeys, error) {
	rk, err := openRootKeys(ctx, kc, st, false, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	m, err := envelope.Open(ctx, st.keysDir(), rk.master, opts)
	if err != nil {
		return nil, nil, err
	}
	return m, rk, nil
}

// loadStateMasterKey loads the state dir's existing master key ($BULWARK_MASTER_KEY_FILE or
// <state>/master.key), never creating one: a new one could not open the keys that are there.
func loadStateMasterKey(stateDir string) (state, *keys.MasterKey, error) {
	st, err := newState(stateDir)
	if err != nil {
		return state{}, nil, err
	}
	path := st.masterKeyPath()
	mk, err := keys.LoadMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) && os.Getenv(keys.EnvMasterKeyFile) == "" {
		return state{}, nil, fmt.Errorf("no master key at %s: run `bulwark up --state-dir %s` first, or set %s", path, stateDir, keys.EnvMasterKeyFile)
	}
	if err != nil {
		return state{}, nil, err
	}
	return st, mk, nil
}

func printEvents(w io.Writer, events []envelope.Event, asJSON bool) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		if asJSON {
			if err := enc.Encode(e); err != nil {
				return err
			}
			continue
		}
		switch e.Action {
		case envelope.ActionRotate:
			if e.Key == "kek" {
				fmt.Fprintf(w, "kek: version %d is primary; data keys stay wrapped by older versions until `bulwark keys rewrap`\n", e.Version)
			} else {
				fmt.Fprintf(w, "%s: version %d is primary (wrapped by KEK version %d); older versions still decrypt\n", e.Key, e.Version, e.KEKVersion)
			}
		case envelope.ActionRewrap:
			fmt.Fprintf(w, "%s: re-wrapped from KEK version %d to %d\n", e.Key, e.FromKEKVersion, e.KEKVersion)
		case envelope.ActionRetire:
			fmt.Fprintf(w, "kek: version %d retired\n", e.Version)
		default:
			fmt.Fprintf(w, "%s: %s version %d\n", e.Key, e.Action, e.Version)
		}
	}
	return nil
}

func printKeyList(w io.Writer, list []envelope.KeyInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVERSION\tKEY ID\tSTATUS\tCREATED\tWRAPPED BY")
	for _, k := range list {
		wrapped := "master key"
		if k.KEKVersion != 0 {
			wrapped = fmt.Sprintf("kek v%d", k.KEKVersion)
		}
		for _, v := range k.Versions {
			status := "enabled"
			switch {
			case v.Primary:
				status = "primary"
			case !v.Enabled:
				status = "retired"
			}
			fmt.Fprintf(tw, "%s\t%d\t%08x\t%s\t%s\t%s\n", k.Key, v.Version, v.KeyID, status, v.Created.Format(time.RFC3339), wrapped)
		}
	}
	tw.Flush()
}
