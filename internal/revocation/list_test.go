package revocation

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func openList(t *testing.T, path string, c *clock) *List {
	t.Helper()
	l, err := OpenList(path, c.Now)
	if err != nil {
		t.Fatalf("OpenList: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestListPersistsAcrossRestart(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "idp", "revoked.jsonl")
	l := openList(t, path, c)
	epoch := l.epoch
	for _, r := range []struct {
		jti   string
		until time.Duration
	}{{"short", time.Minute}, {"long", time.Hour}, {"long", time.Hour}} {
		if _, err := l.Revoke(r.jti, c.Now().Add(r.until)); err != nil {
			t.Fatal(err)
		}
	}
	if l.seq != 2 {
		t.Fatalf("seq = %d after two distinct revocations (one repeated), want 2", l.seq)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("list file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	c.Advance(2 * time.Minute) // "short" has expired
	l2 := openList(t, path, c)
	if l2.epoch != epoch {
		t.Errorf("epoch changed across a restart: %s -> %s", epoch, l2.epoch)
	}
	if !l2.Revoked("long") || l2.Revoked("short") || l2.Revoked("other") {
		t.Errorf("after restart: long=%v short=%v other=%v, want true false false", l2.Revoked("long"), l2.Revoked("short"), l2.Revoked("other"))
	}
	if _, err := l2.Revoke("next", c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l2.seq != 3 {
		t.Errorf("seq after restart = %d, want 3 (numbers never reused)", l2.seq)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"short"`) {
		t.Errorf("an expired entry survived compaction:\n%s", data)
	}
}

func TestListLoadErrors(t *testing.T) {
	c := newClock()
	until := c.Now().Add(time.Hour).Format(time.RFC3339)
	entry := func(seq, jti string) string {
		return `{"seq":` + seq + `,"jti":"` + jti + `","until":"` + until + `"}`
	}
	header := `{"epoch":"e1"}`
	tests := []struct {
		name, data string
		wantErr    bool
		revoked    []string
	}{
		{"torn last line is ignored", header + "\n" + entry("1", "a") + "\n" + `{"seq":2,"jt`, false, []string{"a"}},
		{"malformed middle line", header + "\n" + `{"seq":` + "\n" + entry("2", "b") + "\n", true, nil},
		{"no header", entry("1", "a") + "\n", true, nil},
		{"sequence going back", header + "\n" + entry("2", "a") + "\n" + entry("1", "b") + "\n", true, nil},
		{"empty jti", header + "\n" + entry("1", "") + "\n", true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revoked.jsonl")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := OpenList(path, c.Now)
			if tc.wantErr {
				if err == nil {
					l.Close()
					t.Fatal("OpenList accepted a corrupt list")
				}
				if after, _ := os.ReadFile(path); string(after) != tc.data {
					t.Error("a refused list file was changed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, jti := range tc.revoked {
				if !l.Revoked(jti) {
					t.Errorf("%s not revoked after load", jti)
				}
			}
		})
	}
}

func TestListRefusesBadJTI(t *testing.T) {
	l := openList(t, filepath.Join(t.TempDir(), "r.jsonl"), newClock())
	for _, jti := range []string{"", strings.Repeat("x", maxJTIBytes+1)} {
		if _, err := l.Revoke(jti, time.Now().Add(time.Hour)); err == nil {
			t.Errorf("Revoke(%d bytes) succeeded", len(jti))
		}
	}
	if l.seq != 0 {
		t.Errorf("a refused revocation changed the list")
	}
}

func TestSincePaging(t *testing.T) {
	c := newClock()
	l := openList(t, filepath.Join(t.TempDir(), "r.jsonl"), c)
	for _, j := range []string{"a", "b", "c", "d", "e"} {
		if _, err := l.Revoke(j, c.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := l.since("", 0, 2)
	if !b.Reset || !b.More || b.Seq != 2 || len(b.Entries) != 2 {
		t.Fatalf("first page from another epoch = %+v, want reset, more, seq 2, 2 entries", b)
	}
	b, _ = l.since(b.Epoch, b.Seq, 2)
	if b.Reset || !b.More || b.Seq != 4 || b.Entries[0].JTI != "c" {
		t.Fatalf("second page = %+v", b)
	}
	b, _ = l.since(b.Epoch, b.Seq, 2)
	if b.More || b.Seq != 5 || len(b.Entries) != 1 || b.Entries[0].JTI != "e" {
		t.Fatalf("last page = %+v", b)
	}
	b, _ = l.since(b.Epoch, 99, 2)
	if !b.Reset || len(b.Entries) != 2 {
		t.Fatalf("a caller ahead of the list (list recreated) = %+v, want a reset", b)
	}
}
