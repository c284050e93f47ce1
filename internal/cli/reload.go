package cli

import (
	"fmt"
	"log/slog"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/reload"
)

// watch is what a command needs to hot-reload its config file and policy directory: the
// file, the command-line overrides to re-apply to every reload, and the state it started
// with.
type watch struct {
	file    string
	adjust  reload.Adjust
	initial *reload.State
}

// loadWatch loads the config file and compiles its policies; a problem is exit code 2 and
// nothing starts.
func loadWatch(file string, adjust reload.Adjust) (*watch, error) {
	rs, err := reload.Load(file, adjust)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid config or policies, nothing started:\n%w", err)}
	}
	return &watch{file: file, adjust: adjust, initial: rs}, nil
}

// part returns the reloader of targets as a part. The reloader catches SIGHUP from here on.
func (w *watch) part(component string, al audit.Recorder, log *slog.Logger, targets ...reload.Target) (part, error) {
	r, err := reload.New(reload.Options{
		File: w.file, Adjust: w.adjust, Targets: targets, Audit: al,
		Log: log.With("component", "reload"), Component: component,
	}, w.initial)
	if err != nil {
		return part{}, err
	}
	return part{name: "reload", run: r.Run}, nil
}

// loadWatch is load for the one-role commands: the config with --state-dir applied, its
// policies, and the state directory.
func (f *roleFlags) loadWatch() (*watch, state, error) {
	w, err := loadWatch(f.file, func(c *config.Config) {
		if f.stateDir != "" {
			c.StateDir = f.stateDir
		}
	})
	if err != nil {
		return nil, state{}, err
	}
	st, err := newState(w.initial.Config.StateDir)
	return w, st, err
}
