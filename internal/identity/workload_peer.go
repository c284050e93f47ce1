package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
)

// ServeOption changes how WorkloadAPI.Serve accepts callers.
type ServeOption func(*serveOptions)

type serveOptions struct {
	uids []int // empty: any process that can open the socket
}

// AllowUIDs admits only processes running as one of uids to the socket: the kernel reports
// each caller's UID (SO_PEERCRED, as SPIRE's unix workload attestor reads it), and a caller
// whose UID is not listed is disconnected before any request, and logged. This adds to the
// socket's file mode and directory, which remain the first line. Serve refuses to start with
// this option on a system where Bulwark cannot read peer credentials (only Linux for now).
func AllowUIDs(uids ...int) ServeOption {
	return func(o *serveOptions) { o.uids = append(o.uids, uids...) }
}

// peerUIDListener refuses connections from peers whose UID is not allowed.
type peerUIDListener struct {
	net.Listener
	allowed []int
	socket  string
	log     *slog.Logger
}

func newPeerUIDListener(lis net.Listener, allowed []int, socket string, log *slog.Logger) (net.Listener, error) {
	if len(allowed) == 0 {
		return lis, nil
	}
	if !peerCredSupported {
		return nil, errors.New("peer UID checks (AllowUIDs) are not supported on this system")
	}
	return &peerUIDListener{Listener: lis, allowed: slices.Clone(allowed), socket: socket, log: log}, nil
}

// Accept returns the next connection from an allowed peer; it closes the others.
func (l *peerUIDListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := peerUID(c)
		if err == nil && slices.Contains(l.allowed, uid) {
			return c, nil
		}
		if err == nil {
			err = fmt.Errorf("uid %d is not allowed on this socket", uid)
		}
		l.log.Warn("workload api: refused a connection", "socket", l.socket, "error", err.Error())
		c.Close()
	}
}
