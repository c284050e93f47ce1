package envelope

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockWriters takes the exclusive flock on <dir>/lock that every writer of key files holds
// while it reads, changes and writes them, so that two processes rotating at once cannot
// lose a version (the second would write a keyset without the first one's new key, and
// data encrypted under it would be lost). The kernel drops the lock when the process
// exits, however it exits. Readers take no lock: every file is replaced atomically.
func lockWriters(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key lock: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the file releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("key lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("key lock: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
