package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// FuzzAdminSpoolEvent: whatever a spooled record holds, the drain appends either a CLI
// event of a CLI kind with an id and a time, or the fixed deny event that names no part
// of the record (its id is derived from the record, so a repeated drain records it once).
func FuzzAdminSpoolEvent(f *testing.F) {
	ok, _ := json.Marshal(audit.Event{ID: "0123456789abcdef0123456789abcdef", Time: time.Unix(1, 0).UTC(), Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Allow, Reason: "bulwark keys rotate --kek"})
	for _, seed := range []string{string(ok), `{"id":"x","time":"2026-01-01T00:00:00Z","kind":"authz","component":"gateway","outcome":"allow"}`,
		`{"not":"an event"}`, `null`, `{"id":"x","time":"2026-01-01T00:00:00Z","kind":"admin","component":"cli","reporter":"spiffe://x"}`, ``, `{`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		e := adminSpoolEvent(rec)
		sum := sha256.Sum256(rec)
		if id := hex.EncodeToString(sum[:16]); e.Outcome == audit.Deny && e.ID == id { // the refusal's id is the record's (idempotent drain)
			want := audit.Event{ID: id, Kind: audit.KindAdmin, Component: "cli", Outcome: audit.Deny,
				Reason: "admin audit spool: a record that is not a CLI audit event was dropped"}
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("refusal event %+v", e)
			}
			return
		}
		if checkAdminSpoolEvent(e) != nil || e.Component != "cli" || !strings.Contains(" admin key_rotation secret ", " "+e.Kind+" ") {
			t.Fatalf("drain accepted %+v from %q", e, rec)
		}
	})
}
