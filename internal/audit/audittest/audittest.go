// Package audittest asserts audit events exactly, as SPIRE's tests do: the whole event,
// every field of the schema, with only the generated ones (id, time, trace_id) checked for
// form and then cleared. Audit output is a contract; a test that picks a few fields lets
// a new, renamed or leaking field through.
package audittest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Decode decodes one stored record strictly: a field the schema does not know fails the
// test, so that what Equal compares is the whole record.
func Decode(t testing.TB, rec []byte) audit.Event {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.DisallowUnknownFields()
	var e audit.Event
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("audit record %s: %v", rec, err)
	}
	return e
}

// Read decodes every record of an events file (one JSON object per line) with Decode.
func Read(t testing.TB, path string) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, Decode(t, sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Normalize checks the generated fields of a stored event — id 32 hex digits, time set and
// in UTC, trace_id empty or 32 hex digits — and returns the event with them cleared.
func Normalize(t testing.TB, e audit.Event) audit.Event {
	t.Helper()
	if !hex32.MatchString(e.ID) {
		t.Errorf("audit event id %q: want 32 hex digits", e.ID)
	}
	if e.Time.IsZero() || e.Time.Location() != time.UTC {
		t.Errorf("audit event time %v: want a UTC time", e.Time)
	}
	if e.TraceID != "" && !hex32.MatchString(e.TraceID) {
		t.Errorf("audit event trace_id %q: want 32 hex digits", e.TraceID)
	}
	e.ID, e.Time, e.TraceID = "", time.Time{}, ""
	return e
}

// Equal fails the test unless got, normalized, is want exactly: the same events in the
// same order, every field equal. want holds no id, time or trace_id.
func Equal(t testing.TB, got, want []audit.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d audit events, want %d:\n%s\nwant:\n%s", len(got), len(want), lines(got), lines(want))
	}
	for i := range got {
		if g := Normalize(t, got[i]); !reflect.DeepEqual(g, want[i]) {
			t.Errorf("audit event %d:\n got %s\nwant %s", i, line(g), line(want[i]))
		}
	}
}

func line(e audit.Event) string {
	b, _ := json.Marshal(e)
	return string(b)
}

func lines(es []audit.Event) string {
	var b bytes.Buffer
	for _, e := range es {
		b.WriteString("  " + line(e) + "\n")
	}
	return b.String()
}
