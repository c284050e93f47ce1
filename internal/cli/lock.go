package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockFile is the state directory's owner lock, held by the one process that creates and
// serves its state (up, or control).
const lockFile = "owner.lock"

// lock takes the state directory's owner lock, or says who holds it. A second owner would
// replace the first one's Workload API sockets (hijacking its workloads' identity requests)
// and race it creating the CA. The lock is an flock(2): the kernel releases it when the
// process exits, however it exits, so a crash leaves nothing to clean up.
func (s state) lock() (release func(), err error) {
	path := filepath.Join(s.dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by another bulwark up or control%s: stop it, or use another --state-dir", s.dir, holder)
		}
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // informational only
	}
	return func() { f.Close() }, nil
}
