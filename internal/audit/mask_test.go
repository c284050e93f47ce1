package audit

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileLogMasks: a card number or e-mail address a client put in a path or that ended
// up in a reason never reaches the audit file.
func TestFileLogMasks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := Event{Kind: KindAuthz, Outcome: Deny, Path: "/api/cards/4111111111111111",
		Reason: "no route for alice@example.com password=hunter2", User: "alice"}
	if err := l.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatal("no audit line")
	}
	line := sc.Text()
	for _, leak := range []string{"4111111111111111", "alice@example.com", "hunter2"} {
		if strings.Contains(line, leak) {
			t.Errorf("audit line holds %q: %s", leak, line)
		}
	}
	for _, kept := range []string{`"path":"/api/cards/[card ****1111]"`, `"user":"alice"`} {
		if !strings.Contains(line, kept) {
			t.Errorf("audit line lost %s: %s", kept, line)
		}
	}
}
