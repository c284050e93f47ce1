package cli

import (
	"log/slog"

	"github.com/bulwark-security/bulwark/internal/audit"
	"github.com/bulwark-security/bulwark/internal/auditlog"
)

// openAuditLog opens the tamper-evident audit log that every role of `up` records into.
// It replaces the plain JSON-lines file rather than sitting beside it: its events file is
// still one JSON object per line at the same path, so readers of the old file keep working,
// and one file means one truth to verify. Opening it refuses a log whose checkpointed
// records were changed, so `up` does not sign new checkpoints over tampering.
func (s *stack) openAuditLog(log *slog.Logger) (*auditlog.Log, error) {
	d, err := audit.ParseDurability(s.cfg.Audit.Durability)
	if err != nil {
		return nil, err
	}
	return auditlog.Open(auditlog.Options{
		Durability:         d,
		SyncInterval:       s.cfg.Audit.FsyncInterval,
		Path:               s.auditPath(),
		Origin:             s.cfg.TD.Name() + "/audit",
		Keys:               s.keys, // wraps the checkpoint signing key
		MasterKey:          s.mk,   // opens a key of earlier versions, to migrate it
		WitnessDir:         s.cfg.Audit.WitnessDir,
		CheckpointInterval: s.cfg.Audit.CheckpointInterval,
		Log:                log.With("component", "audit"),
	})
}
