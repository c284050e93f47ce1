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

	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// rootKeys is a state dir's root of trust, as the config's keys: section names it.
type rootKeys struct {
	// master wraps the key manager's KEKs: the file key, or a Vault Transit key.
	master tink.AEAD
	// legacy opens the key files that versions before the key manager sealed directly
	// with the file key, to migrate them (CA, edge, OIDC and audit checkpoint keys). Under
	// Vault Transit there is no file key: it opens nothing, and such a file fails to open,
	// naming itself, rather than a file key being made for it.
	legacy *keys.MasterKey
}

// masterRecord is <state>/master.json, written when a state dir first opens with a master
// key that is not the file: which master wraps its keys, so that a process configured
// with another kind is refused before it creates anything (a file key, most of all). It
// holds no credential, and nothing is ever dialled from it.
type masterRecord struct {
	Master  string `json:"master"`
	Address string `json:"address,omitempty"`
	Mount   string `json:"mount,omitempty"`
	KeyName string `json:"key_name,omitempty"`
}

func (s state) masterRecordPath() string { return filepath.Join(s.dir, "master.json") }

func (r *masterRecord) String() string {
	return fmt.Sprintf("the Vault Transit key %s/keys/%s at %s", r.Mount, r.KeyName, r.Address)
}

// openRootKeys returns the master key kc names for st: the one function every role and
// command opens its key manager with. create lets the file key be created on a fresh state
// dir (up, control, gateway); commands pass false, since a new key could not open the keys
// that are there. A Vault Transit key is checked at open (envelope.VaultTransit); nothing
// is created until it works.
func openRootKeys(ctx context.Context, kc config.Keys, st state, create bool, out io.Writer) (*rootKeys, error) {
	rec, err := readMasterRecord(st)
	if err != nil {
		return nil, err
	}
	switch kc.Master {
	case config.MasterFile, "":
		if rec != nil {
			return nil, fmt.Errorf("state dir %s: its keys are wrapped by %s, but keys.master is %q: use the config that sets keys.master: %s (commands: -f FILE)",
				st.dir, rec, config.MasterFile, rec.Master)
		}
		var mk *keys.MasterKey
		if create {
			mk, err = openMasterKey(st, out)
		} else {
			_, mk, err = loadStateMasterKey(st.dir)
		}
		if err != nil {
			return nil, err
		}
		return &rootKeys{master: envelope.FileMaster(mk), legacy: mk}, nil
	case config.MasterVaultTransit:
		return openTransitRoot(ctx, kc.VaultTransit, st, rec, out)
	}
	return nil, fmt.Errorf("keys.master: unknown master %q", kc.Master)
}

func openTransitRoot(ctx context.Context, v config.VaultTransit, st state, rec *masterRecord, out io.Writer) (*rootKeys, error) {
	want := &masterRecord{Master: config.MasterVaultTransit, Address: v.Address, Mount: v.Mount, KeyName: v.KeyName}
	if os.Getenv(keys.EnvMasterKeyFile) != "" {
		return nil, fmt.Errorf("%s is set, but keys.master is %s: unset it", keys.EnvMasterKeyFile, config.MasterVaultTransit)
	}
	if rec == nil {
		for _, p := range []string{st.masterKeyPath(), filepath.Join(st.keysDir(), "kek.json")} {
			if _, err := os.Stat(p); err == nil {
				return nil, fmt.Errorf("state dir %s: its keys are wrapped by the master key file (%s exists), but keys.master is %s: keep master: file for this state dir, or start %s on a new one",
					st.dir, p, config.MasterVaultTransit, want)
			}
		}
	}
	m, err := envelope.VaultTransit(ctx, envelope.TransitOptions{Address: v.Address, Mount: v.Mount, KeyName: v.KeyName,
		TokenFile: v.TokenFile, CAFile: v.CAFile, Namespace: v.Namespace})
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if rec == nil {
		if err := keys.SecretDir(st.dir); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
		b, _ := json.MarshalIndent(want, "", "  ")
		if err := keys.WriteSecretFile(st.masterRecordPath(), append(b, '\n')); err != nil {
			return nil, fmt.Errorf("write %s: %w", st.masterRecordPath(), err)
		}
		fmt.Fprintf(out, "the master key of %s is %s (no key file is created)\n", st.dir, want)
	}
	why := fmt.Sprintf("the master key is %s; a key file sealed with a file master key by an earlier version cannot be migrated under it", want)
	return &rootKeys{master: m, legacy: keys.NoFileKey(why)}, nil
}

// readMasterRecord reads <state>/master.json; nil when there is none (a file master key).
func readMasterRecord(st state) (*masterRecord, error) {
	b, err := os.ReadFile(st.masterRecordPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r masterRecord
	if err := json.Unmarshal(b, &r); err != nil || r.Master != config.MasterVaultTransit {
		return nil, fmt.Errorf("%s: not a master key record Bulwark wrote (master %q)", st.masterRecordPath(), r.Master)
	}
	return &r, nil
}
