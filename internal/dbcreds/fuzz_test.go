package dbcreds

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeCredsRequest: the request body parser accepts only one JSON object of the
// documented field, and what it accepts names a service exactly as sent.
func FuzzDecodeCredsRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"service":"accounts"}`, `{"service":"a","ttl":1}`, `{} {}`, `null`, `[]`, `{"service":1}`, `{"service":"x"}garbage`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req credsRequest
		if err := decodeStrict(body, &req); err != nil {
			return
		}
		// Accepted: one JSON object (or null) whose only key is service, in any case.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
		}
		for k := range m {
			if !strings.EqualFold(k, "service") {
				t.Fatalf("accepted unknown field %q in %q", k, body)
			}
		}
	})
}
