package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// checkSchema refuses an event that the log's readers could not decode: bytes that are not
// UTF-8 (the syslog export announces its MSG as UTF-8, and `bulwark audit query` prints
// records as stored, so a lone 0x9b would reach an operator's terminal as a CSI), or a
// field of audit.Event with the wrong type ("time": "yesterday", "kind": 5), which would
// stop `bulwark audit query` at that record for good. Fields the schema does not name are
// kept as they are.
func checkSchema(rec []byte) error {
	if !utf8.Valid(rec) {
		return errors.New("event is not valid UTF-8")
	}
	var e audit.Event
	if err := json.Unmarshal(rec, &e); err != nil {
		return fmt.Errorf("event does not fit the audit event schema: %w", err)
	}
	return nil
}
