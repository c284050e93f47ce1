package auditlog

import (
	"context"
	"fmt"

	"github.com/bulwark-security/bulwark/internal/audit"
)

var _ audit.Recorder = (*Log)(nil)

// Record appends one audit event and returns once it is written, or durable, as the log's
// Durability says, so that a caller can refuse a request whose decision could not be
// audited. It fills Time and ID when empty. Concurrent calls share a write and an fsync;
// ctx is not consulted, because an event abandoned half-way would leave the caller not
// knowing whether it was recorded.
func (l *Log) Record(_ context.Context, e audit.Event) error {
	rec, err := audit.Encode(e, l.opts.Now)
	if err != nil {
		return err
	}
	// json.Marshal of an Event with an id is one JSON object on one line (it escapes
	// newlines, compacts raw values), so the JSON check Append makes of records from
	// outside is not repeated here: only the size, which an event can exceed.
	if len(rec) > MaxRecordSize {
		return fmt.Errorf("audit: event is %d bytes, more than %d", len(rec), MaxRecordSize)
	}
	if _, err := l.enqueue([][]byte{rec}, [][]byte{leafHash(rec)}, l.opts.Durability); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
