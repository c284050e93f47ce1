package auditlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Filter selects events. Zero fields match everything; times are inclusive bounds.
type Filter struct {
	Since, Until time.Time
	Kind         string
	Component    string
	User         string
	Caller       string
	Outcome      string
}

func (f Filter) match(e *queryEvent) bool {
	switch {
	case !f.Since.IsZero() && e.Time.Before(f.Since),
		!f.Until.IsZero() && e.Time.After(f.Until),
		f.Kind != "" && e.Kind != f.Kind,
		f.Component != "" && e.Component != f.Component,
		f.User != "" && e.User != f.User,
		f.Caller != "" && e.Caller != f.Caller,
		f.Outcome != "" && e.Outcome != f.Outcome:
		return false
	}
	return true
}

type queryEvent struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Component string    `json:"component"`
	User      string    `json:"user"`
	Caller    string    `json:"caller"`
	Outcome   string    `json:"outcome"`
}

// Query writes the events that match f to w, one JSON line each, byte for byte as stored,
// and returns how many matched out of how many it read. It reads complete records only and
// does not verify the log (Verify does).
func Query(events string, f Filter, w io.Writer) (matched, read uint64, err error) {
	fh, err := openRegular(events)
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	lr := newLineReader(fh, 0)
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) || errors.Is(err, errTorn) {
			return matched, read, nil
		}
		if err != nil {
			return matched, read, fmt.Errorf("record %d: %w", read, err)
		}
		var e queryEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return matched, read, fmt.Errorf("record %d is malformed (%v): run bulwark audit verify", read, err)
		}
		read++
		if !f.match(&e) {
			continue
		}
		matched++
		if _, err := w.Write(append(line, '\n')); err != nil {
			return matched, read, err
		}
	}
}
