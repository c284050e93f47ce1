package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func openLog(t *testing.T) (*FileLog, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "events.jsonl")
	l, err := OpenFile(path)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// readLines returns every line of the log, each decoded into a generic map so that field
// names are checked as written, not as Event's tags happen to say.
func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not one JSON object: %v: %q", len(out)+1, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestFileLogRecordsOneLinePerEvent(t *testing.T) {
	fixed := time.Date(2026, 3, 1, 12, 30, 0, 5, time.FixedZone("CET", 3600))
	full := Event{
		Time:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		ID:        "evt-1",
		Kind:      KindAuthz,
		Component: "sidecar/ledger",
		Outcome:   Deny,
		Reason:    "no rule allows it",
		Rule:      "services[2].allow[0]",
		RequestID: "req-1",
		Source:    "127.0.0.1:5555",
		Caller:    "spiffe://bank.local/svc/notifications",
		User:      "alice",
		Method:    "POST",
		Path:      "/entries",
	}
	tests := []struct {
		name  string
		event Event
		want  map[string]any
	}{
		{
			name:  "every field",
			event: full,
			want: map[string]any{
				"time": "2026-01-02T03:04:05Z", "id": "evt-1", "kind": "authz",
				"component": "sidecar/ledger", "outcome": "deny", "reason": "no rule allows it",
				"rule": "services[2].allow[0]", "request_id": "req-1", "source": "127.0.0.1:5555",
				"caller": "spiffe://bank.local/svc/notifications", "user": "alice",
				"method": "POST", "path": "/entries",
			},
		},
		{
			name:  "time filled from the clock in UTC, empty fields omitted",
			event: Event{ID: "evt-2", Kind: KindAuthn, Component: "gateway", Outcome: Allow},
			want: map[string]any{
				"time": "2026-03-01T11:30:00.000000005Z", "id": "evt-2", "kind": "authn",
				"component": "gateway", "outcome": "allow",
			},
		},
		{
			name:  "control characters stay inside the line",
			event: Event{ID: "evt-3", Time: full.Time, Kind: KindAuthz, Component: "gateway", Outcome: Deny, Path: "/a\r\n{\"forged\":true}"},
			want: map[string]any{
				"time": "2026-01-02T03:04:05Z", "id": "evt-3", "kind": "authz",
				"component": "gateway", "outcome": "deny", "path": "/a\r\n{\"forged\":true}",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, path := openLog(t)
			l.now = func() time.Time { return fixed }
			if err := l.Record(context.Background(), tt.event); err != nil {
				t.Fatalf("Record: %v", err)
			}
			lines := readLines(t, path)
			if got, want := len(lines), 1; got != want {
				t.Fatalf("got %d lines, want %d", got, want)
			}
			if got, want := keysOf(lines[0]), keysOf(tt.want); !slices.Equal(got, want) {
				t.Errorf("field names:\ngot  %q\nwant %q", got, want)
			}
			for k, want := range tt.want {
				if got := lines[0][k]; got != want {
					t.Errorf("%s: got %v, want %v", k, got, want)
				}
			}
		})
	}
}

func TestFileLogFillsID(t *testing.T) {
	l, path := openLog(t)
	for range 2 {
		if err := l.Record(context.Background(), Event{Kind: KindAuthz, Component: "gateway", Outcome: Allow}); err != nil {
			t.Fatal(err)
		}
	}
	lines := readLines(t, path)
	idRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for i, m := range lines {
		id, _ := m["id"].(string)
		if !idRE.MatchString(id) {
			t.Errorf("line %d: got id %q, want 32 hex digits", i, id)
		}
		ts, _ := m["time"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("line %d: got time %q, want an RFC 3339 UTC time", i, ts)
		}
	}
	if lines[0]["id"] == lines[1]["id"] {
		t.Errorf("two events got the same id %v", lines[0]["id"])
	}
}

func TestOpenFileModes(t *testing.T) {
	tests := []struct {
		name    string
		premode fs.FileMode // 0: the directory does not exist yet
	}{
		{"new directory", 0},
		{"existing 0755 directory", 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "audit")
			if tt.premode != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tt.premode); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, "events.jsonl")
			l, err := OpenFile(path)
			if err != nil {
				t.Fatalf("OpenFile: %v", err)
			}
			defer l.Close()
			wantDir := fs.ModeDir | 0o700
			if tt.premode != 0 {
				wantDir = fs.ModeDir | tt.premode // an existing directory is never chmod-ed
			}
			for p, want := range map[string]fs.FileMode{path: 0o600, dir: wantDir} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode() & (fs.ModeType | fs.ModePerm); got != want {
					t.Errorf("%s: got mode %v, want %v", p, got, want)
				}
			}
		})
	}
}

func TestOpenFileAppends(t *testing.T) {
	l, path := openLog(t)
	ev := Event{Kind: KindAuthz, Component: "gateway", Outcome: Allow}
	if err := l.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if got, want := len(readLines(t, path)), 2; got != want {
		t.Errorf("after reopening: got %d lines, want %d", got, want)
	}
}

func TestFileLogConcurrentRecords(t *testing.T) {
	l, path := openLog(t)
	const writers, perWriter = 32, 50
	// Long fields make a torn or interleaved write visible as a line that does not parse.
	pad := strings.Repeat("x", 8<<10)
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				errs <- l.Record(context.Background(), Event{
					Kind: KindAuthz, Component: "gateway", Outcome: Allow,
					RequestID: fmt.Sprintf("%d-%d", w, i), Reason: pad,
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	lines := readLines(t, path)
	if got, want := len(lines), writers*perWriter; got != want {
		t.Fatalf("got %d lines, want %d", got, want)
	}
	seen := map[string]bool{}
	for i, m := range lines {
		rid, _ := m["request_id"].(string)
		if seen[rid] {
			t.Errorf("line %d: request_id %q appears twice", i, rid)
		}
		seen[rid] = true
		if m["reason"] != pad {
			t.Errorf("line %d (%s): reason was altered", i, rid)
		}
	}
	for w := range writers {
		for i := range perWriter {
			if rid := fmt.Sprintf("%d-%d", w, i); !seen[rid] {
				t.Errorf("event %s is missing", rid)
			}
		}
	}
}

func TestRecordAfterClose(t *testing.T) {
	l, path := openLog(t)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := l.Record(context.Background(), Event{Kind: KindAuthz, Component: "gateway", Outcome: Deny})
	if err == nil {
		t.Fatal("Record after Close: got nil error, want one (callers fail closed on it)")
	}
	if got, want := len(readLines(t, path)), 0; got != want {
		t.Errorf("got %d lines, want %d", got, want)
	}
}
