package siem

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"

	"github.com/bulwark-security/bulwark/internal/cabundle"
	"github.com/bulwark-security/bulwark/internal/config"
)

// PositionFile is where the export named name keeps its position, next to the events file.
func PositionFile(events, name string) string {
	return filepath.Join(filepath.Dir(events), "export-"+name+".pos")
}

// FromConfig builds the exporter that x describes for the events file.
func FromConfig(x config.AuditExport, events string, log *slog.Logger) (*Exporter, error) {
	tlsConf, err := clientTLS(x)
	if err != nil {
		return nil, fmt.Errorf("audit export %s: %w", x.Name, err)
	}
	var sink Sink
	switch x.Type {
	case config.ExportHTTPS:
		if sink, err = NewHTTPSink(x.URL, tlsConf, x.BearerTokenFile, x.Timeout); err != nil {
			return nil, err
		}
	case config.ExportSyslog:
		host, _ := os.Hostname()
		sink = NewSyslogSink(x.Address, tlsConf, host, x.AppName, x.Timeout)
	default:
		return nil, fmt.Errorf("audit export %s: unknown type %q", x.Name, x.Type)
	}
	return New(Options{
		Name: x.Name, Events: events, PositionFile: PositionFile(events, x.Name), Sink: sink,
		BatchSize: x.BatchSize, MaxBackoff: x.MaxBackoff, Log: log,
	})
}

func clientTLS(x config.AuditExport) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: x.ServerName}
	if conf.ServerName == "" {
		switch x.Type {
		case config.ExportHTTPS:
			u, err := url.Parse(x.URL)
			if err != nil {
				return nil, err
			}
			conf.ServerName = u.Hostname()
		default:
			host, _, err := net.SplitHostPort(x.Address)
			if err != nil {
				return nil, err
			}
			conf.ServerName = host
		}
	}
	if x.CAFile != "" {
		pool, err := cabundle.Load(x.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
