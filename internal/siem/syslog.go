package siem

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"
)

// SyslogSink writes RFC 5424 messages over TLS with octet-counting framing (RFC 5425).
type SyslogSink struct {
	addr     string
	tlsConf  *tls.Config
	timeout  time.Duration
	hostname string
	appName  string

	mu   sync.Mutex
	conn *tls.Conn
}

var _ Sink = (*SyslogSink)(nil)

// NewSyslogSink sends to addr (host:port). tlsConf must name the server (ServerName) and
// the roots to verify it with (RootCAs, or nil for the system roots).
func NewSyslogSink(addr string, tlsConf *tls.Config, hostname, appName string, timeout time.Duration) *SyslogSink {
	return &SyslogSink{addr: addr, tlsConf: tlsConf, timeout: timeout, hostname: hostname, appName: appName}
}

// Send writes every record as one framed message. On any error the connection is dropped,
// so the retry starts on a fresh one and the receiver never sees half a frame followed by
// the retry.
func (s *SyslogSink) Send(ctx context.Context, recs [][]byte) error {
	var buf []byte
	for i, r := range recs {
		msg, err := formatSyslog(r, s.hostname, s.appName)
		if err != nil {
			return fmt.Errorf("record %d of the batch: %w", i, err)
		}
		buf = frame(buf, msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: s.timeout}, Config: s.tlsConf}
		c, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("syslog %s: %w", s.addr, err)
		}
		s.conn = c.(*tls.Conn)
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	if _, err := s.conn.Write(buf); err != nil {
		s.conn.Close()
		s.conn = nil
		return fmt.Errorf("syslog %s: %w", s.addr, err)
	}
	return nil
}

// Close closes the connection.
func (s *SyslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
