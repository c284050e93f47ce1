package cli

import (
	"github.com/spf13/cobra"

	"github.com/bulwark-security/bulwark/internal/config"
)

// stateFlags are the flags of a command that works on a state dir's files (keys, svid,
// secrets hash): the state dir, and the config file whose keys: section names the master
// key. Without -f the master key is the file one, as before; a state dir whose keys a
// Vault Transit key wraps is then refused, naming the key (openRootKeys), so that no file
// key is made for it.
type stateFlags struct {
	stateDir string
	file     string
}

func (f *stateFlags) register(cmd *cobra.Command, persistent bool, stateHelp string) {
	fs := cmd.Flags()
	if persistent {
		fs = cmd.PersistentFlags()
	}
	fs.StringVar(&f.stateDir, "state-dir", "./.bulwark", stateHelp)
	fs.StringVarP(&f.file, "file", "f", "", "config file; needed when its keys.master is vault-transit (default: the state dir's master key file)")
}

// load returns the state dir and the master key config. With -f and no --state-dir, the
// state dir is the config's.
func (f *stateFlags) load(cmd *cobra.Command) (state, config.Keys, error) {
	if f.file == "" {
		st, err := newState(f.stateDir)
		return st, config.Keys{Master: config.MasterFile}, err
	}
	cfg, err := loadConfig(f.file)
	if err != nil {
		return state{}, config.Keys{}, err
	}
	dir := cfg.StateDir
	if flag := cmd.Flags().Lookup("state-dir"); flag != nil && flag.Changed {
		dir = f.stateDir
	}
	st, err := newState(dir)
	return st, cfg.Keys, err
}
