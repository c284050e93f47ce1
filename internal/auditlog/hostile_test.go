package auditlog

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The readers of the log (audit verify, prove, query) are run on files an insider may have
// replaced: a FIFO or a device in place of a file must be refused with an error naming it,
// never block the command (a FIFO without a writer) or read forever (/dev/zero).
func TestReadersRefuseSpecialFiles(t *testing.T) {
	files := map[string]func(paths) string{
		"checkpoint":   func(p paths) string { return p.checkpoint },
		"history":      func(p paths) string { return p.history },
		"verifier key": func(p paths) string { return filepath.Join(p.dir, signerPubFile) },
		"events":       func(p paths) string { return p.events },
		"events.chain": func(p paths) string { return p.chain },
	}
	readers := map[string]func(p paths) error{
		"verify": func(p paths) error {
			rep, err := Verify(VerifyOptions{Path: p.events})
			if err == nil && rep.Problem != nil {
				return errorString(rep.Problem.Message)
			}
			return err
		},
		"prove": func(p paths) error { _, err := ProveInclusion(p.events, "evt-0003"); return err },
		"query": func(p paths) error { _, _, err := Query(p.events, Filter{}, io.Discard); return err },
	}
	for fname, file := range files {
		for _, special := range []string{"fifo", "/dev/zero"} {
			for rname, read := range readers {
				t.Run(fname+" is "+special+"/"+rname, func(t *testing.T) {
					p := closedLog(t, t.TempDir())
					target := file(p)
					if err := os.Remove(target); err != nil {
						t.Fatal(err)
					}
					if special == "fifo" {
						if err := syscall.Mkfifo(target, 0o600); err != nil {
							t.Fatal(err)
						}
					} else if err := os.Symlink(special, target); err != nil {
						t.Fatal(err)
					}
					done := make(chan error, 1)
					go func() { done <- read(p) }()
					select {
					case err := <-done:
						if err != nil && !strings.Contains(err.Error(), "not a regular file") {
							t.Errorf("got %v, want an error saying the file is not a regular file", err)
						}
						if err == nil && rname == "verify" {
							t.Errorf("verify passed with a %s in place of %s", special, fname)
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("%s blocks on a %s in place of %s", rname, special, fname)
					}
				})
			}
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
