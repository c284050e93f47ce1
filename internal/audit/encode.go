package audit

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Encode is the one way an event becomes a record, for every recorder (the plain file, the
// tamper-evident log, the spool): Time (from now, in UTC) and ID are filled when empty, the
// event is masked (Mask), and it is marshalled to one line of JSON without the newline.
//
// The bytes are exactly json.Marshal's (field order, omitempty, escaping: a test holds the
// two equal for every field, and a fuzz test for any content), written without reflection:
// this runs once per audited request, and json.Marshal was a third of its cost.
func Encode(e Event, now func() time.Time) ([]byte, error) {
	if e.Time.IsZero() {
		e.Time = now().UTC()
	}
	if e.ID == "" {
		e.ID = newID()
	}
	e = Mask(e)
	rec, err := appendEvent(make([]byte, 0, 512), &e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event: %w", err)
	}
	return rec, nil
}

// appendEvent appends e as json.Marshal would write it. Keep it in step with Event's
// fields and tags (TestEncodeMatchesJSON fails when they differ).
func appendEvent(b []byte, e *Event) ([]byte, error) {
	b, err := appendTime(append(b, `{"time":`...), e.Time)
	if err != nil {
		return nil, err
	}
	b = appendString(append(b, `,"id":`...), e.ID)
	b = appendString(append(b, `,"kind":`...), e.Kind)
	b = appendString(append(b, `,"component":`...), e.Component)
	b = appendString(append(b, `,"outcome":`...), e.Outcome)
	b = appendOptString(b, `,"reason":`, e.Reason)
	b = appendOptString(b, `,"rule":`, e.Rule)
	b = appendOptString(b, `,"request_id":`, e.RequestID)
	b = appendOptString(b, `,"trace_id":`, e.TraceID)
	b = appendOptString(b, `,"source":`, e.Source)
	b = appendOptString(b, `,"caller":`, e.Caller)
	b = appendOptString(b, `,"user":`, e.User)
	b = appendOptString(b, `,"method":`, e.Method)
	b = appendOptString(b, `,"path":`, e.Path)
	b = appendOptStrings(b, `,"policies":`, e.Policies)
	if e.WouldDeny {
		b = append(b, `,"would_deny":true`...)
	}
	b = appendOptStrings(b, `,"dry_run":`, e.DryRun)
	b = appendOptString(b, `,"path_hmac":`, e.PathHMAC)
	b = appendOptString(b, `,"resource":`, e.Resource)
	b = appendOptString(b, `,"serial":`, e.Serial)
	if e.Expires != nil {
		if b, err = appendTime(append(b, `,"expires":`...), *e.Expires); err != nil {
			return nil, err
		}
	}
	b = appendOptString(b, `,"reporter":`, e.Reporter)
	return append(b, '}'), nil
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendOptStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(append(b, key...), '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendTime writes t as time.Time's MarshalJSON does (RFC 3339 with nanoseconds, trailing
// zeros trimmed). UTC times in years 0–9999, which Encode makes, are formatted here; any
// other goes to MarshalJSON, with its checks and refusals.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if _, off := t.Zone(); off != 0 || t.Year() < 0 || t.Year() > 9999 {
		j, err := t.MarshalJSON()
		if err != nil {
			return nil, err
		}
		return append(b, j...), nil
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendString writes s as a JSON string. Printable ASCII that json.Marshal does not escape
// (it escapes <, > and & for HTML) is copied; anything else — control characters, those
// three, non-ASCII, invalid UTF-8 — goes through json.Marshal, so its escaping rules are
// the only ones.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
