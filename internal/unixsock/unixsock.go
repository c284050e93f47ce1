// Package unixsock binds the private unix sockets Bulwark serves on (Workload API, a
// sidecar's outbound socket, the apps' sockets under bulwark up): only the owning user can
// connect, and a stale socket from an earlier run is replaced but nothing else ever is.
package unixsock

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/keys"
)

// maxPath is about the longest unix socket path the kernel accepts (sun_path is 108 bytes
// on Linux, 104 on the BSDs).
const maxPath = 104

// Listen listens on path with the socket file mode 0600, in a directory created 0700 (an
// existing one keeps its mode, and is refused if group or others can write to it). The
// directory's mode, or else the umask, is what protects the brief moment before the chmod.
// A file at path that is not a socket is never replaced.
func Listen(path string) (net.Listener, error) {
	if err := keys.SecretDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("socket dir: %w", err)
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().Type() != fs.ModeSocket:
		return nil, fmt.Errorf("%s exists and is not a socket; refusing to replace it", path)
	case err == nil:
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		if len(path) > maxPath {
			return nil, fmt.Errorf("%w (unix socket paths are limited to about %d bytes; this one has %d)", err, maxPath, len(path))
		}
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	return ln, nil
}
