package collect

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/bulwark-security/bulwark/internal/auditlog"
)

// A role re-sends a batch after the collector restarted (its ack was lost): the events
// already in the log are not appended again; the new one is.
func TestDedupeAcrossCollectorRestart(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	c := newCollector(t, l)
	batch := [][]byte{ev("e1", "gateway"), ev("e2", "gateway"), ev("e3", "gateway")}
	res, err := c.Accept(gatewayID, batch)
	if err != nil || res != (Result{Accepted: 3}) {
		t.Fatalf("first delivery: got %+v, %v", res, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir)
	defer l.Close()
	c = newCollector(t, l)
	if c.Size() != 3 {
		t.Errorf("index after restart: got %d ids, want 3", c.Size())
	}
	res, err = c.Accept(gatewayID, append(batch, ev("e4", "gateway"), ev("e4", "gateway")))
	if err != nil || res != (Result{Accepted: 1, Duplicates: 4}) {
		t.Fatalf("re-delivery: got %+v, %v; want 1 accepted, 4 duplicates", res, err)
	}
	if got := strings.Join(logRecords(t, l), ","); got != "e1,e2,e3,e4" {
		t.Errorf("log ids: got %s, want e1,e2,e3,e4", got)
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if rep, err := auditlog.Verify(auditlog.VerifyOptions{Path: l.Path()}); err != nil || rep.Problem != nil {
		t.Errorf("verify: %v %+v", err, rep.Problem)
	}
}

// The collector stamps the authenticated sender into every stored event.
func TestReporterStamped(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	c := newCollector(t, l)
	if _, err := c.Accept(ledgerID, [][]byte{ev("s1", "sidecar/ledger")}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-01-02T03:04:05Z","id":"s1","kind":"authz","component":"sidecar/ledger","outcome":"allow","reporter":"spiffe://bank.local/svc/ledger"}` + "\n"
	if string(b) != want {
		t.Errorf("stored record:\n got %s\nwant %s", b, want)
	}
}

func TestForgedOrMalformedBatchRefusedWhole(t *testing.T) {
	other := spiffeid.RequireFromString("spiffe://bank.local/svc/notifications")
	for _, tc := range []struct {
		name      string
		sender    spiffeid.ID
		bad       []byte
		forbidden bool
		want      string
	}{
		{"sidecar forges the gateway's component", ledgerID, ev("x", "gateway"), true, `component "gateway" does not belong`},
		{"gateway forges a sidecar's component", gatewayID, ev("x", "sidecar/ledger"), true, "does not belong"},
		{"event names its own reporter", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","reporter":"spiffe://bank.local/svc/gateway"}`), true, "reporter"},
		{"caller outside the trust domain", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","caller":"spiffe://evil.example/svc/a"}`), true, "not a SPIFFE ID of trust domain"},
		{"caller not a SPIFFE ID", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","caller":"gateway"}`), true, "not a SPIFFE ID"},
		{"unknown sender", other, ev("x", "sidecar/notifications"), true, "may not deliver"},
		{"component repeated to fool readers", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","component":"gateway"}`), false, "repeats"},
		// encoding/json matches keys case-insensitively (and folds K to the Kelvin sign):
		// the last of "component" and "Component" is the one a Go reader of the log sees.
		{"component repeated in another case", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","Component":"gateway"}`), false, "repeats"},
		{"kind repeated with a Kelvin sign", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","kind":"authz","\u212aind":"secret"}`), false, "repeats"},
		{"component only in another case", ledgerID, []byte(`{"id":"x","COMPONENT":"gateway"}`), false, `spelled "component"`},
		{"caller in another case", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","Caller":"spiffe://evil.example/svc/a"}`), false, `spelled "caller"`},
		{"id in another case", ledgerID, []byte(`{"id":"x","ID":"y","component":"sidecar/ledger"}`), false, "repeats"},
		{"reporter in another case", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","Reporter":"spiffe://bank.local/svc/gateway"}`), true, "reporter"},
		{"no id", ledgerID, []byte(`{"component":"sidecar/ledger"}`), false, `no "id"`},
		{"id not a string", ledgerID, []byte(`{"id":7,"component":"sidecar/ledger"}`), false, "not a string"},
		{"not an object", ledgerID, []byte(`["id"]`), false, "not one JSON object"},
		{"trailing data", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger"} {}`), false, ""},
		{"invalid JSON", ledgerID, []byte(`{"id":"x",}`), false, "not valid JSON"},
		// A field of the wrong type would stop bulwark audit query at this record for good.
		{"time not a time", ledgerID, []byte(`{"time":"yesterday","id":"x","component":"sidecar/ledger"}`), false, `schema: parsing time "yesterday"`},
		{"kind not a string", ledgerID, []byte(`{"id":"x","kind":5,"component":"sidecar/ledger"}`), false, "Event.kind of type string"},
		{"user an object", ledgerID, []byte(`{"id":"x","component":"sidecar/ledger","user":{"a":1}}`), false, "Event.user of type string"},
		{"invalid UTF-8", ledgerID, []byte("{\"id\":\"x\",\"component\":\"sidecar/ledger\",\"path\":\"/\x9b31m\"}"), false, "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLog(t, t.TempDir())
			defer l.Close()
			c := newCollector(t, l)
			comp := "sidecar/ledger"
			if tc.sender == gatewayID {
				comp = "gateway"
			}
			_, err := c.Accept(tc.sender, [][]byte{ev("ok-before", comp), tc.bad})
			re, ok := errors.AsType[*RejectError](err)
			if !ok {
				t.Fatalf("got %v, want a RejectError", err)
			}
			if re.Forbidden != tc.forbidden || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v (forbidden %v), want %q (forbidden %v)", err, re.Forbidden, tc.want, tc.forbidden)
			}
			if n := l.Size(); n != 0 {
				t.Errorf("a refused batch appended %d events", n)
			}
		})
	}
}

// Several deliveries of the same events at once (retries racing) append each event once.
func TestConcurrentDuplicateDeliveries(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	c := newCollector(t, l)
	var batches [][][]byte
	for g := range 8 {
		var b [][]byte
		for i := range 50 {
			b = append(b, ev(string(rune('a'+(g+i)%26))+strings.Repeat("x", i), "gateway"))
		}
		batches = append(batches, b)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := Result{}
	for _, b := range batches {
		wg.Go(func() {
			res, err := c.Accept(gatewayID, b)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total.Accepted += res.Accepted
			total.Duplicates += res.Duplicates
			mu.Unlock()
		})
	}
	wg.Wait()
	ids := logRecords(t, l)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("event %s appended twice", id)
		}
		seen[id] = true
	}
	if total.Accepted != len(ids) || total.Accepted+total.Duplicates != 8*50 {
		t.Errorf("results: %+v for %d stored events", total, len(ids))
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","component":"gateway"}`, `{"id":"x","component":"a","component":"b"}`,
		`{"id":"x","component":"sidecar/ledger","caller":"spiffe://bank.local/svc/a","reporter":"r"}`,
		`{}`, `{"id":1}`, `[]`, `{"id":"x","component":"g"} x`, `{"a":{"b":[1,2,{"c":null}]},"id":"é","component":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		h, err := parseEvent(rec)
		if err != nil || h.hasReporter { // checkProvenance refuses the latter before any stamp
			return
		}
		if h.ID == "" {
			t.Fatal("accepted an event without an id")
		}
		out := stamp(rec, ledgerID)
		h2, err := parseEvent(out)
		if err != nil || h2.ID != h.ID || h2.Component != h.Component || !h2.hasReporter {
			t.Fatalf("stamped record does not parse back: %q: %v", out, err)
		}
	})
}
