package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-security/bulwark/internal/audit"
)

// A client's path or user name reaches `bulwark audit query` output: nothing in it may act
// on the operator's terminal, and each line still decodes to the same event.
func TestQueryOutputHasNoTerminalControls(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"C1 CSI from a request path", "{\"path\":\"/a\u009b2J\"}\n", `{"path":"/a\u009b2J"}` + "\n"},
		{"DEL", "{\"user\":\"a\x7fb\"}\n", `{"user":"a\u007fb"}` + "\n"},
		{"CR between tokens hides the line's start", "{\"id\":\"x\",\r\"kind\":\"authz\"}\n", `{"id":"x", "kind":"authz"}` + "\n"},
		{"invalid UTF-8 in a tampered record", "{\"path\":\"\x9b31m\"}\n", `{"path":"\ufffd31m"}` + "\n"},
		{"plain record unchanged", `{"id":"é","path":"/x"}` + "\n", `{"id":"é","path":"/x"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if n, err := (controlSafeWriter{&b}).Write([]byte(tc.in)); err != nil || n != len(tc.in) {
				t.Fatalf("Write: %d, %v", n, err)
			}
			if got := b.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			var in, out any
			if json.Unmarshal([]byte(tc.in), &in) != nil || json.Unmarshal(b.Bytes(), &out) != nil || !reflect.DeepEqual(in, out) {
				t.Errorf("the escaped line decodes to %v, the record to %v", out, in)
			}
		})
	}
}

// TestAuditQueryEscapesTerminalControls: `bulwark audit query` prints a stored C1 control
// (here CSI, from a request path) escaped, never as the bytes a terminal acts on.
func TestAuditQueryEscapesTerminalControls(t *testing.T) {
	log := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(log, []byte("{\"id\":\"e1\",\"kind\":\"authz\",\"path\":\"/a\u009b2J\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLIAll(t, "audit", "query", "--log", log)
	if err != nil {
		t.Fatalf("audit query: %v", err)
	}
	if strings.Contains(out, "\u009b") || !strings.Contains(out, `\u009b2J`) {
		t.Fatalf("output %q: want the CSI escaped as \\u009b", out)
	}
}

// TestAuditProveEscapesTerminalControls: the record that `bulwark audit prove` prints with
// its proof carries what a client sent; a C1 control in it is printed escaped.
func TestAuditProveEscapesTerminalControls(t *testing.T) {
	st, mk := newAdminState(t)
	l := openTestLog(t, st, mk)
	if err := l.Record(context.Background(), audit.Event{ID: "e1", Kind: audit.KindAuthz, Outcome: audit.Deny, Path: "/a\u009b2J"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil { // signs the checkpoint that prove needs
		t.Fatal(err)
	}
	out, err := runCLIAll(t, "audit", "prove", "--state-dir", st.dir, "--event", "e1")
	if err != nil {
		t.Fatalf("audit prove: %v\n%s", err, out)
	}
	if strings.Contains(out, "\u009b") || !strings.Contains(out, `\u009b2J`) {
		t.Fatalf("output %q: want the CSI escaped as \\u009b", out)
	}
}
