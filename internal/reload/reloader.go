package reload

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/policy/authz"
)

// DefaultInterval is how often the config file and the policy directory are hashed.
const DefaultInterval = 300 * time.Millisecond

// absentPollsToReport is how many polls in a row must find an OpenAPI document missing
// before the deletion is reloaded (and refused): fewer could catch an editor mid-save.
const absentPollsToReport = 3

// TriggerFileChange is the trigger of a reload the poll started; a signal's is
// "signal <name>".
const TriggerFileChange = "file change"

// Target is a component that derives its running state from a State.
type Target interface {
	// Prepare builds, from the new config and engine, everything the target will serve
	// with, without touching what it serves with now. commit swaps it in; it must not
	// fail. An error leaves the target as it was.
	Prepare(cfg *config.Config, engine *authz.Engine) (commit func(), err error)
}

// Options configure a Reloader. File, Audit and Log are required.
type Options struct {
	File      string         // the config file
	Adjust    Adjust         // command-line overrides; may be nil
	Targets   []Target       // committed together, in order
	Audit     audit.Recorder // receives a config_change or policy_change event per reload
	Log       *slog.Logger
	Component string        // the audit component, e.g. "gateway"; default "reload"
	Interval  time.Duration // default DefaultInterval
	// Signals force a reload; default SIGHUP. They are caught from New on, so that a
	// signal sent once the process reports it is up never kills it.
	Signals []os.Signal
}

// Reloader watches the config file and the policy directory and applies their changes.
type Reloader struct {
	o   Options
	cur atomic.Pointer[State]
	mu  sync.Mutex // one reload at a time
	// seen holds the config, policy and OpenAPI sums last loaded or refused, and seenCfg
	// the config whose policy directory and documents they were taken from.
	seen    [3][32]byte
	seenCfg *config.Config
	// absentPolls counts the polls in a row that found an OpenAPI document missing (Run's
	// goroutine only).
	absentPolls int
	sigs        chan os.Signal
	notify      []os.Signal
}

// New returns a Reloader whose running state is initial (as Load returned it, and as the
// targets were built with). It starts catching the reload signals at once.
func New(o Options, initial *State) (*Reloader, error) {
	if o.File == "" || o.Audit == nil || o.Log == nil || initial == nil {
		return nil, errors.New("reload: File, Audit, Log and an initial State are required")
	}
	if o.Component == "" {
		o.Component = "reload"
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Signals == nil {
		o.Signals = []os.Signal{syscall.SIGHUP}
	}
	r := &Reloader{o: o, sigs: make(chan os.Signal, 1), notify: o.Signals}
	r.cur.Store(initial)
	r.seen, r.seenCfg = initial.sums(), initial.Config
	signal.Notify(r.sigs, r.notify...)
	return r, nil
}

// Current returns the running State.
func (r *Reloader) Current() *State { return r.cur.Load() }

// Run polls every Interval and reloads on a change or a signal, until ctx is done (a clean
// stop: nil).
func (r *Reloader) Run(ctx context.Context) error {
	defer signal.Stop(r.sigs)
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case sig := <-r.sigs:
			_ = r.Reload(ctx, "signal "+sig.String())
		case <-t.C:
			if r.changed() {
				_ = r.Reload(ctx, TriggerFileChange)
			}
		}
	}
}

// changed reports whether the config file, the policy directory or an OpenAPI document
// the config names differ from what was last loaded or refused; a refused change is not
// retried until the files change again.
func (r *Reloader) changed() bool {
	r.mu.Lock()
	seen, cfg := r.seen, r.seenCfg
	r.mu.Unlock()
	data, err := readConfig(r.o.File)
	if err != nil {
		return false // mid-rename or gone: look again at the next tick
	}
	psum, err := policySum(cfg.PolicyDir())
	if err != nil {
		return false
	}
	osum, absent, err := currentOpenAPISum(cfg)
	if err != nil {
		return false
	}
	// A document gone for one poll may be an editor saving it by renaming; gone for
	// absentPollsToReport in a row, it was deleted, and the reload that follows says so.
	if !absent {
		r.absentPolls = 0
	} else if r.absentPolls++; r.absentPolls < absentPollsToReport {
		return false
	}
	return [3][32]byte{sha256.Sum256(data), psum, osum} != seen
}

// Reload loads the files, checks the result against the running state, prepares every
// target and commits them all, or none. It records the outcome (audit and log) and returns
// the reason a reload was refused.
func (r *Reloader) Reload(ctx context.Context, trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.Current()
	data, err := readConfig(r.o.File)
	var next *State
	if err == nil {
		next, err = build(r.o.File, data, r.o.Adjust)
	}
	kind := changeKind(old, data, trigger)
	if next != nil {
		r.seen, r.seenCfg = next.sums(), next.Config
		err = old.Config.RestartRequired(next.Config)
	} else if data != nil {
		// Remember the refused files so that the poll does not retry them every tick.
		r.seen[0], r.seenCfg = sha256.Sum256(data), old.Config
		if psum, perr := policySum(old.Config.PolicyDir()); perr == nil {
			r.seen[1] = psum
		}
		if osum, _, oerr := currentOpenAPISum(old.Config); oerr == nil {
			r.seen[2] = osum
		}
	}
	if err == nil {
		err = r.commit(next)
	}
	r.record(ctx, kind, trigger, err)
	return err
}

// changeKind is policy_change when the poll saw only the policy directory change, and
// config_change otherwise: for a signal (it re-reads everything), an edited config file,
// or an edited OpenAPI document (a document is part of a route's config; a policy_change
// would name the policy directory, which did not change).
func changeKind(old *State, data []byte, trigger string) string {
	if trigger != TriggerFileChange || data == nil || sha256.Sum256(data) != old.configSum {
		return audit.KindConfigChange
	}
	if osum, _, err := currentOpenAPISum(old.Config); err != nil || osum != old.openAPISum {
		return audit.KindConfigChange
	}
	return audit.KindPolicyChange
}

// commit prepares every target, then commits them all; one failure commits none.
func (r *Reloader) commit(next *State) error {
	commits := make([]func(), 0, len(r.o.Targets))
	for _, t := range r.o.Targets {
		c, err := t.Prepare(next.Config, next.Engine)
		if err != nil {
			return err
		}
		commits = append(commits, c)
	}
	for _, c := range commits {
		c()
	}
	r.cur.Store(next)
	return nil
}

func (r *Reloader) record(ctx context.Context, kind, trigger string, err error) {
	ev := audit.Event{Kind: kind, Component: r.o.Component, Outcome: audit.Allow, Path: r.o.File}
	if kind == audit.KindPolicyChange {
		ev.Path = r.Current().Config.PolicyDir()
	}
	if err != nil {
		ev.Outcome = audit.Deny
		ev.Reason = "reload refused, running state kept: " + err.Error()
		r.o.Log.LogAttrs(ctx, slog.LevelError, "reload refused; keeping the running config and policies",
			slog.String("kind", kind), slog.String("trigger", trigger), slog.String("error", err.Error()))
	} else {
		ev.Reason = "reloaded (" + trigger + ")"
		r.o.Log.LogAttrs(ctx, slog.LevelInfo, "reloaded config and policies",
			slog.String("kind", kind), slog.String("trigger", trigger), slog.String("config", r.o.File),
			slog.String("policies", r.Current().Config.PolicyDir()))
	}
	if aerr := r.o.Audit.Record(context.WithoutCancel(ctx), ev); aerr != nil {
		r.o.Log.LogAttrs(ctx, slog.LevelError, "audit record failed", slog.String("kind", kind), slog.String("error", fmt.Sprint(aerr)))
	}
}
