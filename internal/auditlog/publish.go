package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// Checkpoint signs a checkpoint of the durable records when there are records the latest
// one does not cover (or no checkpoint yet), and publishes it: appended to the history,
// written as events.checkpoint, and copied to the witness directory. It returns the latest
// checkpoint.
func (l *Log) Checkpoint() (Checkpoint, error) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if l.closed {
		return l.latest, ErrClosed
	}
	l.stateMu.Lock()
	t := l.t.clone()
	l.stateMu.Unlock()
	if l.latest.Note != nil && t.size == l.latest.Size {
		return l.latest, nil
	}
	cp, err := signCheckpoint(l.signer, l.opts.Origin, t.size, t.root(), l.opts.Now())
	if err != nil {
		return l.latest, err
	}
	// The checkpoint file first, then the history: a crash between the two leaves a
	// checkpoint newer than the history's last entry, which Open appends to the history.
	// The other order would leave an older checkpoint file behind, which is exactly what
	// rolling the checkpoint back looks like.
	if err := keys.WriteSecretFile(l.p.checkpoint, cp.Note); err != nil {
		return l.latest, fmt.Errorf("write checkpoint: %w", err)
	}
	l.latest = cp
	if err := l.appendHistory(cp); err != nil {
		return cp, err
	}
	if err := saveTree(l.p.tree, t, keys.WriteSecretFile); err != nil {
		// Only a cache: the next Open rebuilds the tree from the records.
		l.opts.Log.Warn("audit: could not save the tree state", "error", err.Error())
	}
	if l.opts.WitnessDir != "" {
		if err := l.witness(cp); err != nil {
			return cp, fmt.Errorf("witness: %w", err)
		}
	}
	return cp, nil
}

// appendHistory appends a checkpoint to the history and syncs it.
func (l *Log) appendHistory(cp Checkpoint) error {
	if _, err := l.hist.Write(appendHistory(nil, cp.Note)); err != nil {
		return fmt.Errorf("append %s: %w", l.p.history, err)
	}
	if err := l.hist.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", l.p.history, err)
	}
	return nil
}

// witness copies the checkpoint and, once, the verifier key to the witness directory. A
// witness that already holds a different verifier key is not overwritten: that would let
// whoever replaced the local key re-sign history.
func (l *Log) witness(cp Checkpoint) error {
	dir := l.opts.WitnessDir
	pub, err := os.ReadFile(filepath.Join(l.p.dir, signerPubFile))
	if err != nil {
		return err
	}
	wpub := filepath.Join(dir, signerPubFile)
	switch have, err := os.ReadFile(wpub); {
	case errors.Is(err, os.ErrNotExist):
		if err := keys.WriteSecretFile(wpub, pub); err != nil {
			return err
		}
	case err != nil:
		return err
	case !bytes.Equal(bytes.TrimSpace(have), bytes.TrimSpace(pub)):
		return fmt.Errorf("%s holds a different verifier key than %s", wpub, filepath.Join(l.p.dir, signerPubFile))
	}
	return keys.WriteSecretFile(filepath.Join(dir, filepath.Base(l.p.checkpoint)), cp.Note)
}

// Run signs and publishes a checkpoint every CheckpointInterval while records arrive, until
// ctx ends. A failed checkpoint is logged and retried at the next tick; Close signs the
// final one.
func (l *Log) Run(ctx context.Context) error {
	tk := time.NewTicker(l.opts.CheckpointInterval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
			if _, err := l.Checkpoint(); err != nil {
				l.opts.Log.Error("audit: checkpoint failed", "error", err.Error())
			}
		}
	}
}
