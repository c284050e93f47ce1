package cli

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the garbage collector's target for the long-running roles (up,
// gateway, sidecar, control) when the operator has not set GOGC.
//
// Why not Go's default of 100: these processes keep a small live heap (tens of MB) and
// allocate for every request at every hop (TLS records, HTTP/2 frames, headers, JSON), so
// with GOGC=100 the collector runs many times a second and, in the benchmark's full chain,
// took about a fifth of the CPU of a request (mark work, stack scans of the per-request
// goroutines, allocation assists). At 400 the heap may grow to five times the live heap
// between collections instead of two, which costs tens of MB and buys that CPU back
// (bench/README.md, "GC target"). GOGC in the environment (a number, or "off") always
// wins, and GOMEMLIMIT still caps the heap when set.
const serverGCPercent = 400

// tuneGC applies serverGCPercent unless GOGC is set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serverGCPercent)
	}
}
