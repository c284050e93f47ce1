package cli

import (
	"log/slog"

	"github.com/bulwark-security/bulwark/internal/config"
	"github.com/bulwark-security/bulwark/internal/siem"
)

// exportParts are the SIEM exporters of audit.export, each tailing events (the audit log
// this process writes) as a consumer. A receiver that is down does not stop the role: the
// exporter retries and catches up; only a log rewritten under it is an error.
func exportParts(cfg *config.Config, events string, log *slog.Logger) ([]part, error) {
	var parts []part
	for _, x := range cfg.Audit.Export {
		e, err := siem.FromConfig(x, events, log.With("component", "audit-export", "export", x.Name))
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{name: "audit export " + x.Name, run: e.Run})
	}
	return parts, nil
}
