package audit

import "fmt"

// Durability is what a Recorder's Record waits for before it returns (audit.durability):
// the tamper-evident log (package auditlog) and a role's spool (package audit/spool) both
// honour it.
type Durability int

const (
	// DurabilityFsync: the event is written and fsynced: it survives a power loss. The
	// zero value, so that a library user gets the safe default.
	DurabilityFsync Durability = iota
	// DurabilityWrite: the event is written to the file (the kernel holds it): it survives
	// the process being killed, not a power loss or a kernel crash before the fsync, which
	// follows at once, shared with the events around it. A failed write still fails the
	// Record, and a failed fsync every later one. What is handed on (a signed checkpoint,
	// a batch shipped to the collector) is only ever fsynced events.
	DurabilityWrite
)

// ParseDurability parses "fsync" or "write".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "fsync":
		return DurabilityFsync, nil
	case "write":
		return DurabilityWrite, nil
	}
	return 0, fmt.Errorf("audit durability %q: want fsync or write", s)
}

func (d Durability) String() string {
	if d == DurabilityWrite {
		return "write"
	}
	return "fsync"
}
