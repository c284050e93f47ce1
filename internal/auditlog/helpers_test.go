package auditlog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-security/bulwark/internal/keys"
	"github.com/bulwark-security/bulwark/internal/keys/envelope"
)

// testLog opens a log in dir with a master key generated for the test.
func testLog(t testing.TB, dir string, mod ...func(*Options)) *Log {
	t.Helper()
	l, err := Open(testOptions(t, dir, mod...))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// testKeys opens the key manager of the state dir dir (<dir>/keys), as a new process would.
func testKeys(t testing.TB, dir string, mk *keys.MasterKey) *envelope.Manager {
	t.Helper()
	km, err := envelope.Open(context.Background(), filepath.Join(dir, "keys"), envelope.FileMaster(mk), envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return km
}

func testOptions(t testing.TB, dir string, mod ...func(*Options)) Options {
	t.Helper()
	mk, _, err := keys.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Path: filepath.Join(dir, "audit", "events.jsonl"), Origin: "bank.local/audit", Keys: testKeys(t, dir, mk), MasterKey: mk,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	for _, m := range mod {
		m(&o)
	}
	return o
}

// testWriter sends the log's messages to the test output.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

func event(i int) []byte {
	return fmt.Appendf(nil, `{"time":"2026-01-02T03:04:05Z","id":"evt-%04d","kind":"authz","outcome":"deny","caller":"spiffe://bank.local/svc/notifications","path":"/balances/%d"}`, i, i)
}

// appendN appends records [from, to) one call each.
func appendN(t testing.TB, l *Log, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := l.Append(event(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func readLinesRaw(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\n')
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rewriteChain recomputes events.chain for the current events, as an attacker who knows
// the format would after editing the events.
func rewriteChain(t testing.TB, p paths) {
	t.Helper()
	var prev [sha256.Size]byte
	var out []byte
	off := int64(0)
	for _, l := range readLinesRaw(t, p.events) {
		off += int64(len(l) + 1)
		prev = nextChain(prev, leafHash(l))
		out = appendChainRecord(out, off, prev)
	}
	if err := os.WriteFile(p.chain, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mth is RFC 6962's Merkle Tree Hash written from the RFC's definition (section 2.1),
// independently of the merkle library, to check the roots the log signs.
func mth(leaves [][]byte) []byte {
	switch n := len(leaves); n {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return h[:]
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		h := sha256.Sum256(append(append([]byte{1}, mth(leaves[:k])...), mth(leaves[k:])...))
		return h[:]
	}
}

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
