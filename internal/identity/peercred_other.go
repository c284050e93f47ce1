//go:build !linux

package identity

import (
	"errors"
	"net"
)

const peerCredSupported = false

func peerUID(net.Conn) (int, error) {
	return -1, errors.New("peer credentials are not supported on this system")
}
