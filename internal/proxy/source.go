package proxy

import "net"

// SourceIP returns the host part of a request's RemoteAddr ("203.0.113.7" for
// "203.0.113.7:51234"), or the address unchanged when it has no port.
func SourceIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}
