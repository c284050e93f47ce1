package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
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
	var casFlag int
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
			var cas *int
			if cmd.Flags().Changed("cas") {
				cas = &casFlag
			}
			ctx := cmd.Context()
			// Keys the key manager makes while the command runs (the first KEK on a new
			// state dir, the secret store's and the audit HMAC key's data keys on first
			// use) are recorded as key_rotation events with the command's, as under
			// `bulwark keys` (keysAdmin.finish).
			km, ka, err := openKeysAdmin(ctx, st, cfg.Keys, collectorLogPath(cfg, st)) // the log, or the admin spool (admin_audit.go)
			if err != nil {
				return err
			}
			return ka.finish(ctx, putSecret(cmd, cfg, st, km, ka.adminAudit, path, data, cas))
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&dataFile, "data-file", "", `file holding the data as a JSON object of strings, e.g. {"password":"…"}; "-" reads stdin`)
	cmd.Flags().IntVar(&casFlag, "cas", 0, "check-and-set: write only if the current version is this (0: only if the secret does not exist)")
	_ = cmd.MarkFlagRequired("data-file")
	return cmd
}

// putSecret writes data to path, audited before the write, like the API: a write that
// cannot be audited is not made. cas is --cas, if given. A failure after the admin event
// is recorded by the caller (keysAdmin.finish).
func putSecret(cmd *cobra.Command, cfg *config.Config, st state, km *envelope.Manager, al *adminAudit, path string, data map[string]string, cas *int) error {
	ctx := cmd.Context()
	backend, err := openSecretBackend(ctx, cfg, st, km)
	if err != nil {
		return err
	}
	defer backend.Close()
	hasher, err := secrets.LoadOrCreateHasher(ctx, filepath.Join(st.secretsDir(), "audit-hmac.key"), km)
	if err != nil {
		return err
	}
	if err := al.Command(ctx, cmd, "", hasher.Hash(path)); err != nil {
		return err
	}
	if err := al.Record(ctx, audit.Event{Kind: audit.KindSecret, Component: "cli", Outcome: audit.Allow, Reason: "write", Caller: "operator", User: al.user, PathHMAC: hasher.Hash(path)}); err != nil {
		return fmt.Errorf("audit (nothing was changed): %w", err)
	}
	vm, err := backend.Put(ctx, path, data, secrets.WriteOptions{CAS: cas})
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote version %d\n", vm.Version)
	return nil
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
			rk, err := openRootKeys(cmd.Context(), kc, st, false, io.Discard)
			if err != nil {
				return err
			}
			// Hashing changes nothing, so it must make no key: not the first KEK (opening
			// the key manager would, unaudited; `keys list` does not either), not the HMAC
			// key or its data key (openOnly refuses).
			p := filepath.Join(st.secretsDir(), "audit-hmac.key")
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("no audit HMAC key in %s: has the control plane run with this state dir? (%w)", st.secretsDir(), err)
			}
			if ok, err := envelope.Exists(st.keysDir()); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("no keys in %s yet, so nothing can open the audit HMAC key: the first `bulwark up` or `bulwark control` makes them", st.keysDir())
			}
			km, err := envelope.Open(cmd.Context(), st.keysDir(), rk.master, envelope.Options{})
			if err != nil {
				return err
			}
			hasher, err := secrets.LoadOrCreateHasher(cmd.Context(), p, openOnly{km})
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

// openOnly is a key manager that opens what is sealed and refuses to seal: `secrets hash`
// reads the audit HMAC key and must never create one (a file removed after its check).
type openOnly struct{ secrets.Sealer }

func (openOnly) Encrypt(context.Context, string, string, []byte, []byte) ([]byte, error) {
	return nil, errors.New("secrets hash does not create keys")
}
