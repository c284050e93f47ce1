package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strangeStrings are values whose JSON escaping differs from copying: quotes, backslashes,
// control characters, HTML-sensitive bytes, non-ASCII, U+2028, invalid UTF-8.
var strangeStrings = []string{
	"", "plain", `a"b`, `a\b`, "tab\there", "nl\n\r\b\f\x00\x1f", "<script>&amp;</script>", "a&b", "a<b", "a>b",
	"café ☃ 😀", "line\u2028sep\u2029", "bad\xffutf8\xc3", "\x7f", strings.Repeat("x", 300),
}

// fullEvent returns an Event whose every field is set, through reflection: a field added
// to Event is set here without anyone remembering to, so appendEvent must know it.
func fullEvent(t testing.TB, s string) Event {
	var e Event
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(s + "-" + v.Type().Field(i).Name)
		case bool:
			f.SetBool(true)
		case []string:
			f.Set(reflect.ValueOf([]string{s, "p2", ""}))
		case time.Time:
			f.Set(reflect.ValueOf(time.Date(2026, 11, 23, 20, 1, 2, 30400, time.UTC)))
		case *time.Time:
			exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
			f.Set(reflect.ValueOf(&exp))
		default:
			t.Fatalf("Event.%s has type %s, which this test does not fill: teach fullEvent and appendEvent", v.Type().Field(i).Name, f.Type())
		}
	}
	return e
}

func requireSameAsJSON(t testing.TB, e Event) {
	t.Helper()
	want, werr := json.Marshal(e)
	got, gerr := appendEvent(nil, &e)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("appendEvent error %v, json.Marshal error %v", gerr, werr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendEvent differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeMatchesJSON(t *testing.T) {
	for _, s := range strangeStrings {
		requireSameAsJSON(t, fullEvent(t, s))
	}
	// Each field alone, so that every omitempty is checked both ways.
	full := fullEvent(t, "v")
	fv := reflect.ValueOf(full)
	for i := range fv.NumField() {
		var e Event
		reflect.ValueOf(&e).Elem().Field(i).Set(fv.Field(i))
		requireSameAsJSON(t, e)
	}
	requireSameAsJSON(t, Event{Policies: []string{}, DryRun: []string{}}) // empty, not nil: omitted too
	requireSameAsJSON(t, Event{})
}

func TestEncodeTimes(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	times := []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 120000000, time.UTC),
		time.Date(2026, 7, 1, 12, 0, 0, 5, paris),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 3600+30)), // seconds in the offset
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("GMT", 0)),       // offset 0, not UTC
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // refused by both
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),    // refused by both
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600)),
	}
	for _, tm := range times {
		requireSameAsJSON(t, Event{Time: tm, ID: "x"})
		requireSameAsJSON(t, Event{Time: time.Unix(0, 0).UTC(), Expires: &tm})
	}
}

func TestEncodeRefusesWhatJSONRefuses(t *testing.T) {
	_, err := Encode(Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, time.Now)
	if err == nil || !strings.Contains(err.Error(), "audit: encode event") {
		t.Fatalf("Encode of year 10000 = %v, want an encode error", err)
	}
}

func FuzzEncodeMatchesJSON(f *testing.F) {
	for i, s := range strangeStrings {
		f.Add(s, s+"2", int64(1795000000+i), int64(i*1000), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, a, b string, sec, nsec int64, flag bool) {
		tm := time.Unix(sec, nsec).UTC()
		e := Event{Time: tm, ID: a, Kind: b, Component: a, Outcome: b, Reason: a, Path: b, User: a,
			Policies: []string{a, b}, WouldDeny: flag, Expires: &tm}
		if flag {
			e.DryRun, e.Expires = []string{b}, nil
		}
		requireSameAsJSON(t, e)
	})
}
