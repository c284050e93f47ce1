package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"
)

// Audit export types.
const (
	ExportHTTPS  = "https"  // JSON lines over HTTPS POST
	ExportSyslog = "syslog" // RFC 5424 over TLS, RFC 5425 framing
)

// AuditExport is one SIEM destination of the audit log (package siem). Delivery is
// at-least-once and in order; receivers de-duplicate by the event's "id".
type AuditExport struct {
	// Name identifies the export; its delivered position is kept in
	// <audit dir>/export-<name>.pos, so renaming an export starts it from the first event.
	// Letters, digits, '-' and '_'. Required, unique.
	Name string `yaml:"name"`
	// Type is "https" (JSON lines POSTed to URL) or "syslog" (RFC 5424 over TLS to Address).
	Type string `yaml:"type"`
	// URL is the https endpoint that receives the batches (type https). No user info.
	URL string `yaml:"url"`
	// Address is the syslog receiver's host:port (type syslog; RFC 5425's port is 6514).
	Address string `yaml:"address"`
	// ServerName is the name the receiver's certificate must carry. Default: the host of
	// URL or Address.
	ServerName string `yaml:"server_name"`
	// CAFile is a PEM bundle of the CAs that may sign the receiver's certificate. Default:
	// the system roots.
	CAFile string `yaml:"ca_file"`
	// BearerTokenFile holds a bearer token sent with every batch (type https); read before
	// each batch, so it can be rotated in place. There is deliberately no inline token.
	BearerTokenFile string `yaml:"bearer_token_file"`
	// AppName is the syslog APP-NAME. Default "bulwark".
	AppName string `yaml:"app_name"`
	// BatchSize is the most events in one POST or one write. Default 500, at most 10000.
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds one delivery attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBackoff caps the wait between retries of a failed delivery (which start at
	// 500ms and double). Default 30s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

var exportNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c *Config) applyExportDefaults() {
	for i := range c.Audit.Export {
		x := &c.Audit.Export[i]
		if x.AppName == "" {
			x.AppName = "bulwark"
		}
		if x.BatchSize == 0 {
			x.BatchSize = 500
		}
		if x.Timeout == 0 {
			x.Timeout = 10 * time.Second
		}
		if x.MaxBackoff == 0 {
			x.MaxBackoff = 30 * time.Second
		}
	}
}

func (c *Config) validateExport() []error {
	var errs []error
	seen := map[string]bool{}
	for i, x := range c.Audit.Export {
		p := fmt.Sprintf("audit.export[%d]", i)
		add := func(key, format string, args ...any) { errs = append(errs, c.errAt(p+key, format, args...)) }
		switch {
		case !exportNameRE.MatchString(x.Name):
			add(".name", "want 1 to 64 letters, digits, '-' or '_', got %q", x.Name)
		case seen[x.Name]:
			add(".name", "%q is used by another export", x.Name)
		}
		seen[x.Name] = true
		switch x.Type {
		case ExportHTTPS:
			u, err := url.Parse(x.URL)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
				add(".url", "want an https URL without user info or fragment, got %q", x.URL)
			}
			if x.Address != "" {
				add(".address", "is for type syslog; type https uses url")
			}
		case ExportSyslog:
			if host, port, err := net.SplitHostPort(x.Address); err != nil || host == "" || port == "" || port == "0" {
				add(".address", "want host:port of the syslog TLS receiver, got %q", x.Address)
			}
			if x.URL != "" {
				add(".url", "is for type https; type syslog uses address")
			}
			if x.BearerTokenFile != "" {
				add(".bearer_token_file", "is for type https")
			}
		default:
			add(".type", "want %q or %q, got %q", ExportHTTPS, ExportSyslog, x.Type)
		}
		if x.BatchSize < 1 || x.BatchSize > 10000 {
			add(".batch_size", "must be between 1 and 10000, got %d", x.BatchSize)
		}
		if x.Timeout < 100*time.Millisecond || x.Timeout > 5*time.Minute {
			add(".timeout", "must be between 100ms and 5m, got %s", x.Timeout)
		}
		if x.MaxBackoff < time.Second || x.MaxBackoff > time.Hour {
			add(".max_backoff", "must be between 1s and 1h, got %s", x.MaxBackoff)
		}
		if len(x.AppName) > 48 {
			add(".app_name", "at most 48 characters (RFC 5424)")
		}
		for _, r := range x.AppName {
			if r < 33 || r > 126 {
				add(".app_name", "printable ASCII without spaces only (RFC 5424)")
				break
			}
		}
	}
	return errs
}
