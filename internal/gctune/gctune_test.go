package gctune

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	t.Setenv("GOGC", "150") // the operator's choice is kept
	Apply()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the GC percent changed to %d", got)
	}

	t.Setenv("GOGC", "")
	if err := os.Unsetenv("GOGC"); err != nil { // t.Setenv restores it after the test
		t.Fatal(err)
	}
	restore := Apply()
	if got := debug.SetGCPercent(100); got != ServerPercent {
		t.Errorf("without GOGC, GC percent = %d, want %d", got, ServerPercent)
	}
	debug.SetGCPercent(ServerPercent)
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after restore, GC percent = %d, want the 100 it replaced", got)
	}
}
