package siem

import (
	"bytes"
	"slices"
	"testing"
)

// FuzzFormatSyslog feeds arbitrary audit records (the log is input the exporter does not
// control: a tampered file can hold anything) through the RFC 5424 formatter: it either
// refuses the record or produces a message that the test's RFC 5424 parser reads back with
// every field as a parameter and the record as MSG.
func FuzzFormatSyslog(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T03:04:05.123456789Z","id":"e1","kind":"authz","outcome":"deny","reason":"a \"b\" \\ ]","policies":["p1","p2"]}`))
	f.Add([]byte(`{"id":"x","kind":"bad kind with spaces","outcome":"allow","n":1.5e3,"b":true,"o":{"a":[1]},"z":null}`))
	f.Add([]byte(`{"id":"x","kind":"` + string(bytes.Repeat([]byte("k"), 40)) + `","=]\"":"v"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[1]`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		msg, err := formatSyslog(rec, "host", "bulwark")
		if err != nil {
			return
		}
		m, err := parseSyslog(msg)
		if err != nil {
			t.Fatalf("formatted message does not parse: %v\n%q", err, msg)
		}
		if m.Msg != string(rec) {
			t.Fatalf("MSG: got %q, want %q", m.Msg, rec)
		}
		fields, _ := eventFields(rec)
		var want [][2]string
		for _, fl := range fields {
			if n := paramName(fl.name); n != "" {
				for _, v := range fl.values {
					want = append(want, [2]string{n, string(bytes.ToValidUTF8([]byte(v), []byte("\uFFFD")))})
				}
			}
		}
		if !slices.Equal(m.Params, want) {
			t.Fatalf("params:\ngot  %q\nwant %q", m.Params, want)
		}
	})
}
