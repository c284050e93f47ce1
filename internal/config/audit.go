package config

import "time"

// Audit log defaults and bounds. A checkpoint more often than every second would only
// churn the history; less often than hourly leaves too much unsigned.
const (
	defaultCheckpointInterval = 5 * time.Second
	minCheckpointInterval     = time.Second
	maxCheckpointInterval     = time.Hour
	// DefaultAuditFsyncInterval is audit.fsync_interval's default under durability write.
	DefaultAuditFsyncInterval = 50 * time.Millisecond
	minFsyncInterval          = time.Millisecond
	maxFsyncInterval          = time.Second
)

// Audit durabilities (Audit.Durability).
const (
	AuditDurabilityWrite = "write"
	AuditDurabilityFsync = "fsync"
)

func (c *Config) applyAuditDefaults() {
	if c.Audit.Durability == "" {
		c.Audit.Durability = AuditDurabilityWrite
	}
	if c.Audit.Durability == AuditDurabilityWrite && c.Audit.FsyncInterval == 0 {
		c.Audit.FsyncInterval = DefaultAuditFsyncInterval
	}
	if c.Audit.CheckpointInterval == 0 {
		c.Audit.CheckpointInterval = defaultCheckpointInterval
	}
	c.applyExportDefaults()
	c.applyDeliveryDefaults()
}

func (c *Config) validateAudit() []error {
	errs := c.validateExport()
	errs = append(errs, c.validateDelivery()...)
	if d := c.Audit.Durability; d != AuditDurabilityWrite && d != AuditDurabilityFsync {
		errs = append(errs, c.errAt("audit.durability", "must be %q or %q, got %q", AuditDurabilityWrite, AuditDurabilityFsync, d))
	}
	switch d := c.Audit.FsyncInterval; {
	case c.Audit.Durability == AuditDurabilityFsync && d != 0:
		errs = append(errs, c.errAt("audit.fsync_interval", "only applies to durability %q: with %q every request waits for its fsync", AuditDurabilityWrite, AuditDurabilityFsync))
	case c.Audit.Durability == AuditDurabilityWrite && (d < minFsyncInterval || d > maxFsyncInterval):
		errs = append(errs, c.errAt("audit.fsync_interval", "must be between 1ms and 1s, got %s", d))
	}
	if d := c.Audit.CheckpointInterval; d < minCheckpointInterval || d > maxCheckpointInterval {
		errs = append(errs, c.errAt("audit.checkpoint_interval", "must be between 1s and 1h, got %s", d))
	}
	return errs
}
