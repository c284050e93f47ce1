// Package gctune sets the garbage collector's target for Bulwark's long-running roles.
package gctune

import (
	"os"
	"runtime/debug"
)

// ServerPercent is the garbage collector's target for the long-running roles (up,
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
const ServerPercent = 400

// Apply sets ServerPercent unless GOGC is set, and returns a function that puts back the
// target it replaced (benchmarks that run as the roles do).
func Apply() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	prev := debug.SetGCPercent(ServerPercent)
	return func() { debug.SetGCPercent(prev) }
}
