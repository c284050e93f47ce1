package collect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// MaxRecordSize bounds one event; the auditlog refuses larger records too.
const MaxRecordSize = 1 << 20

// ReporterField is the field the collector stamps into every event it receives.
const ReporterField = "reporter"

// head is what the collector reads of an event; everything else is kept byte for byte.
type head struct {
	ID, Component, Caller string
	hasReporter           bool
}

// parseEvent reads the top-level fields of one event. It refuses anything but one JSON
// object with unique keys, a non-empty string id and a string component. Keys are unique
// as encoding/json matches them, ignoring case, and the fields the collector checks must be
// spelled exactly: otherwise a Go reader of the log would take "Component" or "Caller" for
// the checked field, while the collector checked another.
func parseEvent(rec []byte) (head, error) {
	var h head
	if len(rec) == 0 || len(rec) > MaxRecordSize {
		return h, fmt.Errorf("event is %d bytes (1 to %d allowed)", len(rec), MaxRecordSize)
	}
	if rec[0] != '{' || rec[len(rec)-1] != '}' {
		return h, errors.New("event is not one JSON object")
	}
	if bytes.IndexByte(rec, '\n') >= 0 {
		return h, errors.New("event holds a newline")
	}
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, errors.New("event is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return h, fmt.Errorf("event is not valid JSON: %w", err)
		}
		key := t.(string) // object keys are always strings
		folded := foldKey(key)
		if seen[folded] {
			return h, fmt.Errorf("event repeats the field %q (keys are compared ignoring case)", key)
		}
		seen[folded] = true
		switch {
		case folded == foldKey(ReporterField):
			h.hasReporter = true
		case checked[folded] != "" && key != checked[folded]:
			return h, fmt.Errorf("event field %q must be spelled %q", key, checked[folded])
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return h, fmt.Errorf("event field %q: %w", key, err)
		}
		switch key {
		case "id", "component", "caller":
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return h, fmt.Errorf("event field %q is not a string", key)
			}
			switch key {
			case "id":
				h.ID = s
			case "component":
				h.Component = s
			case "caller":
				h.Caller = s
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return h, fmt.Errorf("event is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return h, errors.New("event has data after its JSON object")
	}
	if h.ID == "" {
		return h, errors.New(`event has no "id"`)
	}
	if !seen[foldKey("component")] {
		return h, errors.New(`event has no "component"`)
	}
	return h, nil
}

// checkProvenance refuses an event that its sender may not report.
func checkProvenance(h head, sender spiffeid.ID, component string) error {
	if h.hasReporter {
		return errors.New(`event already names a "reporter": only the collector sets it`)
	}
	if h.Component != component {
		return fmt.Errorf("component %q does not belong to the sender %s (it may report %q)", h.Component, sender, component)
	}
	if h.Caller != "" {
		id, err := spiffeid.FromString(h.Caller)
		if err != nil || !id.MemberOf(sender.TrustDomain()) {
			return fmt.Errorf("caller %q is not a SPIFFE ID of trust domain %s", h.Caller, sender.TrustDomain())
		}
	}
	return nil
}

// stamp returns rec with "reporter": sender added as its last field.
func stamp(rec []byte, sender spiffeid.ID) []byte {
	v, _ := json.Marshal(sender.String()) // a string always marshals
	out := make([]byte, 0, len(rec)+len(v)+len(ReporterField)+4)
	out = append(out, rec[:len(rec)-1]...)
	if len(bytes.TrimSpace(rec[1:len(rec)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, ReporterField...)
	out = append(out, '"', ':')
	out = append(out, v...)
	return append(out, '}')
}

// checked are the fields parseEvent reads, by their folded keys.
var checked = map[string]string{foldKey("id"): "id", foldKey("component"): "component", foldKey("caller"): "caller"}

// foldKey folds a JSON object key as encoding/json does when it matches a key to a struct
// field (each rune to the smallest of its case-fold set, "k" and the Kelvin sign to "K"):
// two keys with the same fold reach the same field.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				return next
			}
			r = next
		}
	}, k)
}
