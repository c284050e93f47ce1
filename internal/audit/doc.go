// Package audit records every security decision as one JSON line. This first version
// appends to a local file (0600, in a 0700 directory); a later version makes the log
// tamper-evident. A Recorder that cannot write returns an error, and callers fail closed
// unless the operator set audit.unsafe_fail_open.
package audit
