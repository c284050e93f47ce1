package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
	"github.com/bulwark-security/bulwark/internal/secrets"
)

// maxSecretInput bounds what `secrets put` reads.
const maxSecretInput = 2 * secrets.MaxDataBytes

func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Write secrets into the secret store, and hash paths to search the audit log",
	}
	cmd.AddCommand(newSecretsPutCmd(), newSecretsHashCmd())
	return cmd
}

func newSecretsPutCmd() *cobra.Command {
	var f roleFlags
	var dataFile string
	var cas int
	cmd := &cobra.Command{
		Use:   "put PATH --data-file FILE",
		Short: "Write a new version of a secret: a JSON object of strings read from FILE (- for stdin), never from a flag",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if err := secrets.CheckPath(path); err != nil {
				return err
			}
			data, err := readSecretData(cmd.InOrStdin(), dataFile)
			if err != nil {
				return err
			}
			cfg, st, err := f.load()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			km, rk, err := openKeyManager(ctx, st, cfg.Keys, envelope.Options{})
			if err != nil {
				return err
			}
			backend, err := openSecretBackend(ctx, cfg, st, km)
			if err != nil {
				return err
			}
			defer backend.Close()
			hasher, err := secrets.LoadOrCreateHasher(ctx, filepath.Join(st.secretsDir(), "audit-hmac.key"), km)
			if err != nil {
				return err
			}
			al, err := openAdminAudit(st, collectorLogPath(cfg, st), km, rk.legacy) // the log, or the admin spool (admin_audit.go)
			if err != nil {
				return err
			}
			defer al.Close()
			// Audited before the write, like the API: a write that cannot be audited is not made.
			if err := al.Command(ctx, cmd, "", hasher.Hash(path)); err != nil {
				return err
			}
			if err := al.Record(ctx, audit.Event{Kind: audit.KindSecret, Component: "cli", Outcome: audit.Allow, Reason: "write", Caller: "operator", User: al.user, PathHMAC: hasher.Hash(path)}); err != nil {
				return fmt.Errorf("audit (nothing was changed): %w", err)
			}
			var o secrets.WriteOptions
			if cmd.Flags().Changed("cas") {
				o.CAS = &cas
			}
			vm, err := backend.Put(ctx, path, data, o)
			if err != nil {
				// The write was audited before it was tried: record that it did not happen.
				if ferr := al.Failed(ctx, err); ferr != nil {
					return errors.Join(err, ferr)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote version %d\n", vm.Version)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&dataFile, "data-file", "", `file holding the data as a JSON object of strings, e.g. {"password":"…"}; "-" reads stdin`)
	cmd.Flags().IntVar(&cas, "cas", 0, "check-and-set: write only if the current version is this (0: only if the secret does not exist)")
	_ = cmd.MarkFlagRequired("data-file")
	return cmd
}

// readSecretData reads a JSON object of strings from name ("-": in).
func readSecretData(in io.Reader, name string) (map[string]string, error) {
	r := in
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(io.LimitReader(r, maxSecretInput))
	var data map[string]string
	if err := dec.Decode(&data); err != nil || data == nil {
		// The decoder's message could quote the input: keep it out.
		return nil, fmt.Errorf("data file: want one JSON object of string values")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data file: trailing data after the JSON object")
	}
	return data, nil
}

func newSecretsHashCmd() *cobra.Command {
	var sf stateFlags
	cmd := &cobra.Command{
		Use:   "hash PATH",
		Short: "Print the path_hmac audit events carry for a secret path, to find its events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := secrets.CheckPath(args[0]); err != nil {
				return err
			}
			st, kc, err := sf.load(cmd)
			if err != nil {
				return err
			}
			km, _, err := openKeyManager(cmd.Context(), st, kc, envelope.Options{})
			if err != nil {
				return err
			}
			p := filepath.Join(st.secretsDir(), "audit-hmac.key")
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("no audit HMAC key in %s: has the control plane run with this state dir? (%w)", st.secretsDir(), err)
			}
			hasher, err := secrets.LoadOrCreateHasher(cmd.Context(), p, km)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), hasher.Hash(args[0]))
			return nil
		},
	}
	sf.register(cmd, false, "state directory")
	return cmd
}
