package audit

import (
	"encoding/json"
	"fmt"
	"time"
)

// Encode is the one way an event becomes a record, for every recorder (the plain file, the
// tamper-evident log, the spool): Time (from now, in UTC) and ID are filled when empty, the
// event is masked (Mask), and it is marshalled to one line of JSON without the newline.
func Encode(e Event, now func() time.Time) ([]byte, error) {
	if e.Time.IsZero() {
		e.Time = now().UTC()
	}
	if e.ID == "" {
		e.ID = newID()
	}
	rec, err := json.Marshal(Mask(e))
	if err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	return rec, nil
}
